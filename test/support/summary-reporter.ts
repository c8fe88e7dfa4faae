// Prints one plain closing line, "N passed, N failed, N skipped", that tools reading CI
// logs understand without knowing vitest's own summary format. A file that failed outside
// its tests (a beforeAll that threw, an import error) and an unhandled error each count as
// a failure too: their tests are reported as skipped, which would hide the failure.

import type { Reporter, SerializedError, TestModule, TestRunEndReason } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, _reason: TestRunEndReason): void {
    const counts = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
    for (const m of testModules) {
      let failedHere = 0;
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") counts.passed += 1;
        else if (state === "failed") failedHere += 1;
        else counts.skipped += 1;
      }
      if (failedHere === 0 && m.state() === "failed") failedHere = Math.max(1, m.errors().length);
      counts.failed += failedHere;
    }
    process.stdout.write(`\nvitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
