// Reads a Utrace trace file with apache-arrow and prints what an outside reader sees, as JSON:
// rows, the sum of raw_duration, calls per function name (from the function column), and the file's metadata.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const table = tableFromIPC(readFileSync(process.argv[2]));
const metadata = table.schema.metadata;
const names = table.getChild('function');
const durations = table.getChild('raw_duration');
let durationSum = 0n;
const calls = {};
for (let i = 0; i < table.numRows; i++) {
    durationSum += durations.get(i) ?? 0n;
    const name = names.get(i);
    calls[name] = (calls[name] ?? 0) + 1;
}
// A trace with -Capture: the captured values of each row that has any.
const captured = [];
const [args, strings, returns] = ['arguments', 'argument_strings', 'return_value'].map(name => table.getChild(name));
for (let i = 0; args && i < table.numRows; i++) {
    if (args.get(i) === null && returns.get(i) === null)
        continue;
    captured.push({
        function: names.get(i),
        arguments: args.get(i) === null ? null : Array.from(args.get(i), value => value.toString()),
        strings: strings.get(i) === null ? null : Array.from(strings.get(i)),
        returnValue: returns.get(i)?.toString() ?? null,
    });
}
console.log(JSON.stringify({
    captured,
    rows: table.numRows,
    durationSum: durationSum.toString(),
    calls,
    columns: table.schema.fields.map(f => `${f.name}:${f.type}`),
    units: Object.fromEntries(table.schema.fields.map(f => [f.name, f.metadata.get('utrace.unit')])),
    formatVersion: metadata.get('utrace.format_version'),
    command: metadata.get('utrace.command'),
}));
