// Reads a Utrace trace file with apache-arrow and prints what an outside reader sees, as JSON:
// rows, the sum of duration_ns, calls per function name, and the file's metadata.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const table = tableFromIPC(readFileSync(process.argv[2]));
const metadata = table.schema.metadata;
const functions = JSON.parse(metadata.get('utrace.functions'));
const ids = table.getChild('function_id');
const durations = table.getChild('duration_ns');
let durationSum = 0n;
const calls = {};
for (let i = 0; i < table.numRows; i++) {
    durationSum += durations.get(i);
    const name = functions[ids.get(i)].name;
    calls[name] = (calls[name] ?? 0) + 1;
}
// A trace with -Capture (format 1.1): the captured values of each row that has any.
const captured = [];
const [args, strings, returns] = ['arguments', 'argument_strings', 'return_value'].map(name => table.getChild(name));
for (let i = 0; args && i < table.numRows; i++) {
    if (args.get(i) === null && returns.get(i) === null)
        continue;
    captured.push({
        function: functions[ids.get(i)].name,
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
    formatVersion: metadata.get('utrace.format_version'),
    command: metadata.get('utrace.command'),
}));
