// Calls and total time (ns) per function of a Parquet file of Export-UTrace, with DuckDB.
import { DuckDBInstance } from '@duckdb/node-api';

const connection = await (await DuckDBInstance.create()).connect();
const result = await connection.runAndReadAll(
    'SELECT function, count(*) AS calls, sum(duration) AS total_ns FROM read_parquet($path) GROUP BY function ORDER BY function',
    { path: process.argv[2] });
console.log(JSON.stringify(result.getRowObjectsJson()));
