import { resolve } from 'node:path';
import { emitSchema } from './schema';

/** `npm run schema:emit`: regenerates schema/schema.graphql from the code. */
const out = resolve(process.argv[2] ?? 'schema/schema.graphql');
emitSchema(out);
console.log(`Wrote ${out}`);
