import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printGraphQLSchema } from '../../src/graphql/schema';

/** schema/schema.graphql is generated from the resolvers; it must be committed up to date. */

const FILE = join(__dirname, '..', '..', 'schema', 'schema.graphql');

test('schema/schema.graphql equals the schema the code builds', () => {
  const committed = readFileSync(FILE, 'utf8');
  const built = printGraphQLSchema();
  if (committed !== built) {
    const a = committed.split('\n');
    const b = built.split('\n');
    let line = 0;
    while (line < a.length && line < b.length && a[line] === b[line]) line++;
    throw new Error(
      'schema/schema.graphql is stale: run `npm run schema:emit` and commit the result.\n' +
        `First difference at line ${line + 1}:\n  committed: ${JSON.stringify(a[line] ?? '<end of file>')}\n  built:     ${JSON.stringify(b[line] ?? '<end of file>')}`,
    );
  }
  expect(committed).toBe(built);
});
