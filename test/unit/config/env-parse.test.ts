import { parse as dotenvParse } from "dotenv";
import { describe, expect, it } from "vitest";
import { parseEnv } from "../../../src/config/env-parse.js";

const asObject = (text: string): Record<string, string> => Object.fromEntries(parseEnv(text).entries.map((e) => [e.key, e.value]));

describe("parseEnv: the env file grammar", () => {
  it("reads ordinary files as dotenv does (the parser it replaces)", () => {
    const text = [
      "# a comment",
      "",
      "PLAIN=value",
      "SPACED = value with spaces  ",
      "EMPTY=",
      "SINGLE='it is # not a comment'",
      'DOUBLE="line1\\nline2"',
      "BACK=`x y`",
      "export EXPORTED=1",
      "COMMENTED=abc # a comment",
      "URL=https://example.com/path?q=1&r=2",
      "EQUALS=a=b=c",
      'JSONISH={"a":1}',
      "  INDENTED=yes",
      "WINDOWS=crlf\r",
      "MULTI=\"first",
      "second\"",
      "SQ_MULTI='a",
      "b'",
    ].join("\n");
    expect(parseEnv(text).problems).toEqual([]);
    expect(asObject(text)).toEqual(dotenvParse(text));
  });

  it("gives the line of every key, counting the lines a quoted value spans", () => {
    const { entries } = parseEnv("A='x\ny\nz'\n\nB=1\nC=\"p\\\"q\"\n");
    expect(entries.map((e) => [e.key, e.line])).toEqual([["A", 1], ["B", 5], ["C", 6]]);
    expect(entries[2]?.value).toBe('p"q');
  });

  it("keeps a # inside an unquoted value (dotenv cut the value there)", () => {
    expect(asObject("PASSWORD=ab#cd\nB=x #c")).toEqual({ PASSWORD: "ab#cd", B: "x" });
  });

  it.each([
    ["A-B=3", 1, /key "A-B" is not a shell variable name/],
    ["A.B=1", 1, /key "A.B" is not a shell variable name/],
    ["MY KEY=1", 1, /key "MY KEY" is not a shell variable name/],
    ["1ABC=1", 1, /key "1ABC" is not a shell variable name/],
    ["OK=1\njust-a-pasted-password", 2, /not KEY=VALUE \(no "="/],
    ["=value", 1, /nothing before "="/],
    ["A='open\nB=2", 1, /"A": the ' that opens the value is never closed/],
    ["A=\"x\" trailing", 1, /"A": unexpected text after the closing "/],
    ["A=a\0b", 1, /"A": the value holds a NUL byte/],
  ])("refuses %j at line %i", (text, line, message) => {
    const { problems } = parseEnv(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.line).toBe(line);
    expect(problems[0]?.message).toMatch(message);
  });

  it("never puts a value, or a line without =, in a message", () => {
    const { problems } = parseEnv("A-B=hunter2\nhunter3\nC='hunter4\" x\nD=\"hunter5\" hunter6\n");
    const text = problems.map((p) => p.message).join("\n");
    for (const secret of ["hunter2", "hunter3", "hunter4", "hunter5", "hunter6"]) expect(text).not.toContain(secret);
    expect(problems.map((p) => p.line)).toEqual([1, 2, 3]);
  });

  it("a long key that looks like a pasted value is not shown either", () => {
    const { problems } = parseEnv(`${"x".repeat(80)} y=1`);
    expect(problems[0]?.message).toMatch(/key \(not shown/);
  });

  it("reports every bad line of a file, not only the first", () => {
    const { problems, entries } = parseEnv("A-B=1\nGOOD=1\nno equals\nC.D=2\n");
    expect(problems.map((p) => p.line)).toEqual([1, 3, 4]);
    expect(entries.map((e) => e.key)).toEqual(["GOOD"]);
  });
});
