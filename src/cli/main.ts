#!/usr/bin/env node
/**
 * The `kenshin` command. Thin: each sub-command parses flags, calls one library function and maps the
 * outcome to an exit code (see `exit-codes.ts`). Sub-commands live in one file each and register here.
 */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { registerAdminCommands } from "./admin.js";
import { registerBackupCommands } from "./backup.js";
import { registerClusterCommands } from "./cluster.js";
import { registerConvertCommands } from "./convert.js";
import { registerDictionaryCommands } from "./dictionary.js";
import { registerKeyCommands } from "./keys.js";
import { registerLedgerCommands } from "./ledger.js";
import { registerMapCommands } from "./map.js";
import { registerNodeCommands } from "./node-commands.js";
import { runMain } from "./run.js";
import { registerVerifyCommand } from "./verify.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command("kenshin")
    .description("健診結果の標準フォーマット変換・受け渡し (kenshin-exchange)")
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  // Each command group lives in its own file and registers itself here, one line each.
  registerConvertCommands(program);
  registerMapCommands(program);
  registerNodeCommands(program);
  registerAdminCommands(program);
  registerDictionaryCommands(program);
  registerLedgerCommands(program);
  registerVerifyCommand(program);
  registerBackupCommands(program);
  registerKeyCommands(program);
  registerClusterCommands(program);
  return program;
}

runMain(buildProgram);
