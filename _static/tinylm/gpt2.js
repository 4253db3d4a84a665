// The entry point CONTRACTS §7 names (`import { parseSafetensors, createGPT2 } from "./gpt2.js"`). The code lives in
// engines/gpt2.js, with the rest of the page-side code in folders by role (README: "The in-page transformer").
export * from "./engines/gpt2.js";
