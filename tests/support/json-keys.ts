/**
 * The keys that appear more than once in one object of a JSON text, as "path.key" (JSON.parse
 * keeps only the last one, so a parsed value cannot show them; strict consumers such as
 * Elasticsearch refuse such a document). Scans the raw text with a small JSON tokenizer.
 * @throws Error when the text is not valid JSON.
 */
export function duplicateJsonKeys(text: string): string[] {
  let i = 0;
  const found: string[] = [];
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`invalid JSON at ${i}: ${what}`);
  };
  const string = (): string => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (text[i] !== '"') fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = string();
        if (seen.has(key)) found.push(path ? `${path}.${key}` : key);
        seen.add(key);
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        value(path ? `${path}.${key}` : key);
        ws();
        const sep = text[i++];
        if (sep === '}') return;
        if (sep !== ',') fail('expected "," or "}"');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        const sep = text[i++];
        if (sep === ']') return;
        if (sep !== ',') fail('expected "," or "]"');
      }
    } else if (c === '"') {
      string();
    } else {
      const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
      if (!m) fail('unexpected token');
      i += m![0].length;
    }
  };
  value('');
  ws();
  if (i !== text.length) fail('trailing text');
  return found;
}
