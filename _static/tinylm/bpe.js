// The entry point CONTRACTS §5 names (`import { encode, decode } from "./bpe.js"`). The code lives in
// tokenizers/bpe.js, with the rest of the page-side code in folders by role (README: "The in-page transformer").
export * from "./tokenizers/bpe.js";
