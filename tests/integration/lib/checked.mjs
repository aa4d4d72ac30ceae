// A startServer for test files that also checks, once the file is done, that no server it
// started reported a sanitizer error (the suite runs once more against an ASan+UBSan build).
import assert from 'node:assert/strict';
import { after } from 'node:test';

import { startServer as startFerry } from './server.mjs';

export function checkedServers() {
  const started = [];
  after(async () => {
    for (const s of started) await s.stop();
    const reports = started.flatMap((s) => s.stderrText().match(/^.*(?:ERROR: \w+Sanitizer|runtime error:).*$/gm) ?? []);
    assert.deepEqual(reports, [], 'sanitizer reports in ferry stderr');
  });
  return async function startServer(opts) {
    const s = await startFerry(opts);
    started.push(s);
    return s;
  };
}
