// Calls and total time (ns) per function of a Utrace trace file, with nodejs-polars.
import { readFileSync } from 'node:fs';
import pl from 'nodejs-polars';

const calls = pl.readIPCStream(readFileSync(process.argv[2]))
    .groupBy('function')
    .agg(pl.len().alias('calls'), pl.col('duration').cast(pl.Int64).sum().alias('total_ns'))
    .sort('function');
console.log(JSON.stringify(calls.toRecords()));
