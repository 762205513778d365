// Prints vitest's JSON results as one plain closing line ("tests: N passed, N failed, N skipped")
// that CI log readers understand whatever the test runner.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.grove/vitest-results.json';
let results;
try {
  results = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  process.stdout.write(`tests: no results in ${file} (${err.message})\n`);
  process.exit(0);
}
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
process.stdout.write(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
