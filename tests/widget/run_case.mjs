// node tests/widget/run_case.mjs CASE.json -> the CPU engine's results as JSON on stdout
import { readFileSync } from "node:fs";
import { createModel } from "../../_static/tinylm/model.js";
import { runCase } from "./check.mjs";

const c = JSON.parse(readFileSync(process.argv[2], "utf8"));
process.stdout.write(JSON.stringify(await runCase(createModel, c, "cpu")));
