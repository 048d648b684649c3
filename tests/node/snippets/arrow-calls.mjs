// Calls per function of a Utrace trace file, with apache-arrow.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const table = tableFromIPC(readFileSync(process.argv[2]));
const calls = {};
for (const name of table.getChild('function'))
    calls[name] = (calls[name] ?? 0) + 1;
console.log(JSON.stringify(calls));
