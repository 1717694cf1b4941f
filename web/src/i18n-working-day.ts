/**
 * Labels of the working-day pages and behaviours (issue 16): the account page (password, devices),
 * help, the office's audit viewer and unlock, list search and paging, download choices, per-record
 * verification. Kept apart from i18n.ts so the dictionaries stay readable; i18n.ts merges them.
 */
export const WORKING_DAY_DICT = {
  // dates
  jst: ["日本時間", "Japan time"],
  showWareki: ["和暦も表示", "Show Japanese era"],

  // navigation, footer, help
  navAccount: ["アカウント", "Account"],
  navHelp: ["ヘルプ・お問い合わせ", "Help and contact"],
  navAdminAudit: ["操作の記録", "Audit log"],
  newArrivals: ["新着 {n} 件", "{n} new"],
  newArrivalsNotice: [
    "まだダウンロードしていない新着の転送が {n} 件あります。",
    "{n} new transfers have not been downloaded yet.",
  ],
  helpTitle: ["ヘルプ・お問い合わせ", "Help and contact"],
  helpContactHeading: ["お問い合わせ先", "Contact"],
  helpContact: [
    "このサービスの事務局にお問い合わせください。ロックの解除、パスワードの再設定、証明書の再発行、マッピングの更新は事務局が行います。電話でお問い合わせの際は、利用者IDと機関名をお伝えください (パスワードは伝えないでください)。",
    "Please contact the office of this service. The office unlocks IDs, resets passwords, re-issues certificates and updates mappings. When you call, give your user ID and institution name (never your password).",
  ],
  helpFaqHeading: ["よくある質問", "Frequently asked questions"],
  helpQ1: ["「列が見出し行にありません」と表示される", "“Column is not in the header row”"],
  helpA1: [
    "選んだファイルが、健診システムから出力した結果のCSVか確かめてください。健診システムの出力の形 (列の名前) が変わった場合は、事務局にマッピングの更新を依頼してください。",
    "Check that the file is the results CSV exported by your checkup system. If the export's columns changed, ask the office to update your mapping.",
  ],
  helpQ2: ["Excel で開くと文字化けする", "Garbled text in Excel"],
  helpA2: [
    "ダウンロードのときに「Excel用 (Shift_JIS)」または「Excel用 (UTF-8 BOM付き)」を選んでください。検証に使うのは「標準CSVのまま」のファイルです。",
    "When downloading, choose “For Excel (Shift_JIS)” or “For Excel (UTF-8 with BOM)”. Use the “standard CSV as is” file for verification.",
  ],
  helpQ3: ["ログインできなくなった", "Locked out"],
  helpA3: [
    "続けて間違えると一定時間ロックされます。急ぎの場合は事務局に連絡し、ロックの解除を依頼してください。",
    "After repeated failures the ID is locked for a while. If it is urgent, ask the office to unlock it.",
  ],
  helpQ4: ["共用の利用者IDのパスワードを変えたい", "Changing the shared ID's password"],
  helpA4: [
    "「アカウント」の画面でいつでも変更できます。変更したら、同じ利用者IDを使う方に決められた方法で伝えてください。",
    "Change it at any time on the Account page, then tell the others who use the same ID through your agreed channel.",
  ],
  helpTimes: [
    "日時はすべて日本時間 (JST) で、西暦の「2026/06/03 10:15」の形で表示します。",
    "All times are Japan time (JST), shown as “2026/06/03 10:15”.",
  ],

  // account page
  accountTitle: ["アカウント", "Account"],
  accountIntro: [
    "この利用者IDのパスワードと、この利用者IDを使う端末 (ブラウザ) を管理します。",
    "Manage this user ID's password and the devices (browsers) that use it.",
  ],
  passwordVoluntary: [
    "同じ利用者IDを複数の方で使っている場合、担当が替わったときなどに変更してください。",
    "If several people share this user ID, change the password when staff change.",
  ],
  passwordChangedAt: ["パスワードを変更しました ({time})。", "Your password was changed ({time})."],
  passwordChangeConfirmTitle: ["パスワードを変更しますか？", "Change the password?"],
  passwordChangeConfirmText: [
    "変更すると、同じ利用者IDを使うほかの方も新しいパスワードでログインすることになります。",
    "Others who share this user ID will then need the new password.",
  ],
  passwordChangeYes: ["変更する", "Change"],
  devicesHeading: ["登録された端末", "Registered devices"],
  devicesIntro: [
    "この利用者IDで操作できる端末です。使わなくなった端末は削除してください。削除した端末からは操作できなくなります。",
    "Devices that can act with this user ID. Remove devices no longer used: they can then no longer act.",
  ],
  colDeviceName: ["端末の名前", "Device name"],
  colDeviceSince: ["登録日時", "Registered"],
  colDeviceId: ["端末の識別子", "Device identifier"],
  thisDevice: ["この端末", "This device"],
  deviceRename: ["名前を変える", "Rename"],
  deviceRenameTitle: ["端末の名前を変える", "Rename the device"],
  deviceNewName: ["新しい名前", "New name"],
  deviceRenameYes: ["変更する", "Rename"],
  deviceRenamed: ["端末の名前を「{name}」に変えました。", "Renamed the device to “{name}”."],
  deviceRemove: ["削除", "Remove"],
  deviceRemoveTitle: ["端末「{name}」を削除しますか？", "Remove the device “{name}”?"],
  deviceRemoveText: [
    "この端末からは、もう一度登録するまで操作できなくなります。元に戻すことはできません。",
    "That device can no longer act until it is registered again. This cannot be undone.",
  ],
  deviceRemoveYes: ["削除する", "Remove"],
  deviceRemoved: ["端末「{name}」を削除しました。", "Removed the device “{name}”."],
  deviceOtherList: ["登録済みの端末:", "Registered devices:"],
  deviceSince: ["{name} ({time} に登録)", "{name} (registered {time})"],

  // login
  loginAttemptsLeft: [
    "あと1回間違えると、しばらくの間ログインできなくなります。",
    "One more wrong attempt locks this user ID for a while.",
  ],
  loginHelp: ["ログインできない場合", "Cannot log in?"],

  // transfers list
  searchLabel: ["検索 (機関名・転送ID)", "Search (institution, transfer ID)"],
  statusFilter: ["状態で絞り込む", "Filter by status"],
  statusNew: ["新着 (未ダウンロード)", "New (not downloaded)"],
  statusNotReceived: ["ダウンロード済み・未受領", "Downloaded, receipt not confirmed"],
  listShown: [
    "{total} 件中 {from}–{to} 件目を表示 (該当 {matched} 件)",
    "Showing {from}–{to} of {matched} matching ({total} in all)",
  ],
  listNone: ["該当する転送はありません。", "No matching transfers."],
  pagePrev: ["前のページ", "Previous page"],
  pageNext: ["次のページ", "Next page"],
  pageNav: ["ページ送り", "Pages"],
  pageOf: ["{page} / {pages} ページ", "Page {page} of {pages}"],
  colId: ["転送ID", "Transfer ID"],

  // transfer detail
  sendConfirmTitle: ["送信を確定しますか？", "Confirm sending?"],
  sendConfirmText: [
    "{receiver} に {records} 件のレコードを送信します。確定すると取り消せません。",
    "{records} records will be sent to {receiver}. This cannot be undone.",
  ],
  sendConfirmRejected: [
    "エラーのある {rows} 行は送信されません。元のファイルを直して、別にアップロードしてください (下の「指摘」に行と列があります)。",
    "{rows} rows with errors are not sent. Fix them in the original file and upload them separately (see the issues below for rows and columns).",
  ],
  sendConfirmYes: ["送信を確定する", "Confirm sending"],
  sentDoneRejected: [
    "送信を確定しました。エラーで除いた {rows} 行は送信されていません。",
    "Sending confirmed. The {rows} rows rejected for errors were not sent.",
  ],
  receiptConfirmTitle: ["受領を確定しますか？", "Confirm receipt?"],
  receiptConfirmText: [
    "受領を確定すると取り消せません。確定から決められた日数が過ぎると、データはすべてのサーバーから削除されます (新しい削除予定日はこの画面に表示されます)。それまではもう一度ダウンロードできます。",
    "This cannot be undone. A set number of days after the receipt the data is deleted from every server (this page then shows the new deletion date). Until then you can download it again.",
  ],
  receiptConfirmYes: ["受領を確定する", "Confirm receipt"],
  downloadAgain: ["もう一度ダウンロード", "Download again"],
  downloadFormat: ["ファイルの形式", "File format"],
  formatStandard: ["標準CSVのまま (UTF-8・検証に使えます)", "Standard CSV as is (UTF-8, verifiable)"],
  formatCp932: ["Excel用 (Shift_JIS)", "For Excel (Shift_JIS)"],
  formatBom: ["Excel用 (UTF-8 BOM付き)", "For Excel (UTF-8 with BOM)"],
  formatNote: [
    "Excel用のファイルは文字コードだけを変えたものです。ハッシュ値が変わるので、ファイルの検証には「標準CSVのまま」を使ってください (Excel用でもレコードごとの検証はできます)。",
    "Excel copies only change the character encoding. Their hash differs, so verify the file with the standard copy (records of an Excel copy can still be verified one by one).",
  ],
  formatCodeHeader: [
    "見出しの2行目に JLAC10 コードの行を入れる (項目をコードで読むシステム向け。レコードの内容とハッシュ値は変わりません)",
    "Add a second header line with each item's JLAC10 code (for systems that read items by code; the records and their hashes are unchanged)",
  ],
  formatNotEncodable: [
    "Shift_JIS で表せない文字があるため、Excel用 (UTF-8 BOM付き) を選んでください。",
    "Some characters cannot be written in Shift_JIS: choose For Excel (UTF-8 with BOM).",
  ],
  trailUnnamedDevice: ["(削除された端末)", "(removed device)"],

  // issues
  issuesDownload: ["指摘の一覧をダウンロード", "Download the issue list"],
  issuesPrint: ["印刷", "Print"],
  colAdvice: ["直し方", "How to fix"],
  issueCsvRow: ["行", "Row"],

  // send
  sendNotCsv: [
    "このファイルは CSV ではないようです (画像・PDF などは送れません)。健診システムから出力した結果の CSV ファイルを選んでください。",
    "This file does not look like a CSV (images, PDFs and the like cannot be sent). Choose the results CSV exported by your checkup system.",
  ],
  sendExcel: [
    "Excel のファイル (.xlsx / .xls) はそのままでは送れません。Excel で「CSV」形式で保存し直してから選んでください。",
    "Excel workbooks (.xlsx / .xls) cannot be sent as they are. Save the sheet as CSV in Excel first.",
  ],
  sendEmpty: ["空のファイルです。", "The file is empty."],
  sendAdvice: [
    "選んだファイルが、健診システムから出力した結果の CSV か確かめてください。健診システムの出力の形が変わった場合は、事務局にマッピングの更新を依頼してください。",
    "Check that you chose the results CSV exported by your checkup system. If the export's layout changed, ask the office to update your mapping.",
  ],

  // verify
  verifyRecordsAll: [
    "このファイルそのものの記録はありませんが、{count} 件のレコードはすべて、{date}に {sender} から送信されたときのままです (レコードごとに検証しました)。",
    "This exact file is not on record, but all {count} records are as {sender} sent them on {date} (verified record by record).",
  ],
  verifyRecordsSome: [
    "このファイルは変更されています。{count} 件のうち {ok} 件のレコードは送信されたときのままですが、{bad} 件は記録と一致しません。",
    "This file has been changed: {ok} of {count} records are as sent, {bad} do not match any record.",
  ],
  verifyRecordsNone: [
    "このファイルのレコードはどれも記録と一致しません。内容が変更されているか、このサービスで送信されたファイルではありません。",
    "None of this file's records match a record. It has been changed, or was not sent through this service.",
  ],
  verifyRecordsTooMany: [
    "記録が見つからず、レコードが多すぎるため (最大 {max} 件) レコードごとの検証はしていません。",
    "Not found, and too many records (at most {max}) to check one by one.",
  ],
  verifyRecordsChecking: [
    "レコードごとに照会しています… {done} / {count}",
    "Checking record by record… {done} / {count}",
  ],
  verifyRecordTableCaption: ["レコードごとの結果", "Result per record"],
  colLine: ["行", "Line"],
  colResult: ["結果", "Result"],
  recordProven: ["送信されたときのまま", "As sent"],
  recordNotProven: ["記録と一致しません", "Does not match"],
  vkeyCompare: [
    "サーバーの管理画面 (コンソール) に表示された「台帳の検証鍵」と同じか確かめてください:",
    "Check that it is the same as the “ledger verifier key” printed on the server console:",
  ],

  // office
  colLastLogin: ["最終ログイン", "Last login"],
  colMapping: ["マッピング", "Mapping"],
  colCerts: ["有効な証明書", "Valid certificates"],
  mappingNone: ["未登録", "None"],
  lockedUntilText: ["ロック中 ({time} まで)", "Locked (until {time})"],
  noLogin: ["未発行", "Not issued"],
  neverLoggedIn: ["まだありません", "Never"],
  unlock: ["ロックを解除", "Unlock"],
  unlocked: ["{loginId} のロックを解除しました。", "Unlocked {loginId}."],
  auditTitle: ["操作の記録", "Audit log"],
  auditIntro: [
    "台帳に記録された操作を新しい順に表示します。記録には識別子とハッシュ値だけが含まれ、健診結果は含まれません。この閲覧も記録されます。",
    "Operations on the ledger, newest first. Entries hold identifiers and hashes only, never results. Reading them is recorded too.",
  ],
  auditCount: ["表示する件数", "Entries to show"],
  auditFilterType: ["種類", "Kind"],
  auditFilterInst: ["機関", "Institution"],
  auditCaption: ["操作の記録 (新しい順)", "Audit log (newest first)"],
  colNo: ["番号", "No."],
  colWhen: ["日時", "Time"],
  colWho: ["利用者ID", "User ID"],
  colOperation: ["操作", "Operation"],
  colOutcome: ["結果", "Outcome"],
  colTarget: ["対象", "Target"],
  outcomeSuccess: ["成功", "Success"],
  outcomeFailed: ["失敗・拒否", "Failed or refused"],
  opLogin: ["ログイン", "Login"],
  opLogout: ["ログアウト", "Logout"],
  opAdmin: ["事務局・アカウントの操作", "Office or account action"],
  opAuditQuery: ["記録の閲覧", "Audit read"],
  opDenial: ["拒否された操作", "Refused request"],
} as const satisfies Record<string, readonly [string, string]>;
