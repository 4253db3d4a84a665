// The entry point CONTRACTS §4 names (`import { createModel } from "./model.js"`). The code lives in
// engines/model.js, with the rest of the page-side code in folders by role (README: "The in-page transformer").
export * from "./engines/model.js";
