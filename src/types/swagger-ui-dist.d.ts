/** The part of `swagger-ui-dist` (no types of its own) that src/rest/docs uses. */
declare module 'swagger-ui-dist/absolute-path.js' {
  /** The folder holding Swagger UI's built assets (swagger-ui-bundle.js, swagger-ui.css, ...). */
  function getAbsoluteFSPath(): string;
  export = getAbsoluteFSPath;
}
