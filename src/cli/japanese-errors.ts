/**
 * commander's argument errors in Japanese (the people running `kenshin` are clinic and office staff).
 * commander writes English sentences of a fixed shape; each known shape is re-worded here, and an
 * unknown one is passed on unchanged (never lost).
 */

type Rule = readonly [RegExp, (...groups: string[]) => string];

const RULES: readonly Rule[] = [
  [/^error: unknown option '(.+)'$/, (f) => `エラー: 不明なオプション「${f}」です`],
  [/^error: unknown command '(.+)'$/, (c) => `エラー: 不明なコマンド「${c}」です`],
  [/^error: missing required argument '(.+)'$/, (a) => `エラー: 引数「${a}」を指定してください`],
  [/^error: option '(.+)' argument missing$/, (o) => `エラー: オプション「${o}」に値を指定してください`],
  [/^error: required option '(.+)' not specified$/, (o) => `エラー: オプション「${o}」は必須です`],
  [
    /^error: too many arguments(?: for '(.+)')?\. Expected (\d+) arguments? but got (\d+)\.$/,
    (cmd, expected, got) =>
      `エラー: ${cmd ? `「${cmd}」の` : ""}引数が多すぎます (${expected} 個まで、指定は ${got} 個)`,
  ],
  [
    /^error: too many arguments(?: for '(.+)')?$/,
    (cmd) => `エラー: ${cmd ? `「${cmd}」の` : ""}引数が多すぎます`,
  ],
  [
    /^error: option '(.+)' argument '(.*)' is invalid\. Allowed choices are (.+)\.$/,
    (o, v, choices) => `エラー: オプション「${o}」の値「${v}」は使えません (使える値: ${choices})`,
  ],
  [
    /^error: option '(.+)' argument '(.*)' is invalid\.(.*)$/,
    (o, v) => `エラー: オプション「${o}」の値「${v}」が正しくありません`,
  ],
  [
    /^error: command-argument value '(.*)' is invalid for argument '(.+)'\.(?: Allowed choices are (.+)\.)?$/,
    (v, a, choices) =>
      `エラー: 引数「${a}」の値「${v}」は使えません${choices ? ` (使える値: ${choices})` : ""}`,
  ],
  [/^error: (.+) cannot be used with (.+)$/, (a, b) => `エラー: ${a} と ${b} は同時に指定できません`],
  [/^\(Did you mean one of (.+)\?\)$/, (list) => `(もしかして ${list} のどれかですか)`],
  [/^\(Did you mean (.+)\?\)$/, (s) => `(もしかして ${s} ですか)`],
];

/** One of commander's error outputs (one or more lines) in Japanese. */
export function japaneseCommanderError(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      for (const [pattern, word] of RULES) {
        const m = pattern.exec(line);
        if (m)
          return word(
            ...Array.from(m)
              .slice(1, m.length)
              .map((g: string | undefined) => g ?? ""),
          );
      }
      return line;
    })
    .join("\n");
}
