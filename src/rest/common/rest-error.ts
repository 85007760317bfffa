/**
 * An HTTP-level refusal of the REST layer itself (no domain rule involved): unknown path (404),
 * method not allowed (405), page past the end (404), a body of the wrong media type (415).
 */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RestError';
  }
}
