/**
 * The request's batch loaders moved to the read model (src/read-model/loaders.ts, issue 29 item 4).
 * This re-export only keeps src/realtime/index.ts compiling until its import moves there too (that
 * file is being reshaped by issue 29 item 2); nothing else may import it (tests/unit/adapter-imports.test.ts).
 */
export { createLoaders, type Loaders } from '../read-model/loaders';
