/**
 * README.md's worked example (issue 30, item 7), run as written: its `sh` block, in bash, against
 * a real server (the documented http://localhost:4000 replaced by the test server's address),
 * twice in a row on the same database. The first version failed on a second run (the fixed
 * user names were taken: `ERIN=null`) and used a variable set in another terminal.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../support/test-server';

jest.setTimeout(120000);

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

/** The first `sh` block under "## Worked example". */
function workedExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Worked example'));
  return /```sh\n([\s\S]*?)```/.exec(section)![1];
}

const tools = ['curl', 'jq'].filter((tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
if (tools.length) console.warn(`readme-example.test.ts: ${tools.join(', ')} missing, so the worked example is not run (apt-get install curl jq).`);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

(tools.length ? test.skip : test)('the worked example runs twice in a row, every step answering', async () => {
  const script = workedExample();
  expect(script).toContain('http://localhost:4000/graphql');
  const origin = server.url.replace(/\/graphql$/, '');
  const outputs: string[] = [];
  for (const attempt of [1, 2]) {
    // `set -e` is left out on purpose: the reader's terminal has none either; the output says it all.
    const { stdout, stderr } = await run('bash', ['-c', script.replaceAll('http://localhost:4000', origin)], { cwd: ROOT, timeout: 60000 });
    const lines = stdout.split('\n').filter(Boolean);
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect({ attempt, stderr: stderr.replace(/.*Terminated.*\n?/g, '') }).toEqual({ attempt, stderr: '' });
    expect(json).toEqual([
      { data: { sendMessage: { seq: 1, content: 'Hi Frank!', sender: { username: expect.stringMatching(/^erin_\d+$/) } } } },
      {
        data: {
          messageAdded: { conversationId: expect.any(String), seq: 2, content: 'Are you there?', sender: { username: expect.stringMatching(/^erin_\d+$/) } },
        },
      },
      { data: { unreadSummary: { total: 2 } } },
    ]);
    outputs.push(json[0].data.sendMessage.sender.username);
    // A new second, so the second run's names differ (the example's suffix is `date +%s`).
    if (attempt === 1) await new Promise((r) => setTimeout(r, 1100));
  }
  expect(outputs[0]).not.toBe(outputs[1]);
});
