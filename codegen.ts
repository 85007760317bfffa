/**
 * GraphQL Code Generator (https://the-guild.dev/graphql/codegen) for frontends: the client
 * preset reads the committed schema and the operations in the .graphql files under examples/,
 * and writes typed results, variables and TypedDocumentNodes into examples/gql/ (committed).
 * Run `npm run codegen` after changing the schema or an operation; the examples test fails
 * (`graphql-codegen --check`) when the committed output is stale.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  overwrite: true,
  // The file, not a running server: generation needs no server and no introspection.
  schema: 'schema/schema.graphql',
  documents: ['examples/**/*.graphql'],
  generates: {
    'examples/gql/': {
      preset: 'client',
      presetConfig: {
        // Plain TypeScript clients (no React components): fragments are read directly, not unmasked.
        fragmentMasking: false,
      },
      config: {
        // The custom scalars of schema/schema.graphql.
        scalars: {
          DateTime: 'string', // ISO 8601, e.g. 2026-01-31T12:00:00.000Z
          Upload: 'File | Blob', // sent as a GraphQL multipart request, never as JSON
        },
        strictScalars: true, // a new custom scalar fails generation until it is mapped here
        useTypeImports: true,
      },
    },
  },
};

export default config;
