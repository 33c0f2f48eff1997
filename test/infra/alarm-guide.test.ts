import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { alarmDescription, alarmGuideMarkdown, alarmNames } from "../../infra/alarm-guide.ts";

/* One text per alarm: README's table and each alarm's CloudWatch description come from infra/alarm-guide.ts. */

const root = join(import.meta.dirname, "../..");

describe("the alarm guide", () => {
  it("is README's alarm table, exactly", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const block = /<!-- alarms: [^>]*-->\n([\s\S]*?)\n<!-- \/alarms -->/.exec(readme);
    expect(block, "README's generated alarm block").not.toBeNull();
    expect(block?.[1]).toBe(alarmGuideMarkdown());
  });

  it("covers every alarm infra/monitoring.ts creates, and nothing else", () => {
    const monitoring = readFileSync(join(root, "infra/monitoring.ts"), "utf8");
    const created = [...monitoring.matchAll(/name: "(\w+)",\n\s+metric:/g), ...monitoring.matchAll(/queueAlarm\("(\w+)"/g)].map(
      (match) => match[1],
    );
    expect(created.sort()).toEqual([...alarmNames].sort());
  });

  it("gives CloudWatch plain text within its 1,024-character limit", () => {
    for (const name of alarmNames) {
      const description = alarmDescription(name);
      expect(description).not.toContain("`");
      expect(description.length).toBeLessThanOrEqual(1024);
    }
  });
});
