/**
 * Labels in Japanese (first) and English, one small dictionary. Placeholders are `{name}`, replaced by
 * plain string splitting (no RegExp built from text). The language is chosen by the 「English」 button
 * and kept in localStorage.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { SEAL_DICT } from "./i18n-seal.js";
import { CLUSTER_DICT } from "./i18n-cluster.js";
import { WORKING_DAY_DICT } from "./i18n-working-day.js";

export type Lang = "ja" | "en";

const BASE_DICT = {
  appTitle: ["健診結果 受け渡しサービス", "Health checkup result exchange"],
  skipToMain: ["本文へ移動", "Skip to main content"],
  switchLanguage: ["English", "日本語"],
  logout: ["ログアウト", "Log out"],
  loading: ["読み込み中…", "Loading…"],
  mainNav: ["メインメニュー", "Main menu"],
  navSend: ["送信", "Send"],
  navTransfers: ["一覧", "Transfers"],
  navVerify: ["検証", "Verify"],
  navAdminInstitutions: ["機関と利用者ID", "Institutions and IDs"],
  navAdminCertificates: ["証明書", "Certificates"],
  navAdminMonitoring: ["監視", "Monitoring"],
  navAdminMappings: ["マッピング", "Mappings"],
  signedInAs: ["{institution} ({loginId}) としてログイン中", "Signed in as {loginId} ({institution})"],
  close: ["閉じる", "Close"],
  cancel: ["やめる", "Cancel"],
  notFoundTitle: ["ページが見つかりません", "Page not found"],
  backHome: ["最初の画面へ", "Back to the start"],

  // login
  loginTitle: ["ログイン", "Log in"],
  loginId: ["利用者ID", "User ID"],
  password: ["パスワード", "Password"],
  loginButton: ["ログイン", "Log in"],
  loginBusy: ["確認しています…", "Checking…"],
  loginCertificateNote: [
    "この画面はクライアント証明書を取り込んだブラウザでのみ開けます。",
    "This page opens only in a browser that holds your client certificate.",
  ],
  sessionExpired: [
    "一定時間操作がなかったため、ログインの有効期限が切れました。もう一度ログインしてください。",
    "Your session has expired. Please log in again.",
  ],
  loggedOut: ["ログアウトしました。", "You have logged out."],

  // device
  deviceTitle: ["端末の登録", "Register this device"],
  deviceIntro: [
    "この利用者IDをこのブラウザで初めて使います。操作の記録に使う鍵をこの端末の中に作り、登録します。鍵は端末の外には出ません。",
    "This is the first use of this ID in this browser. A key for signing your actions is created inside this device and registered. The key never leaves the device.",
  ],
  deviceLabel: ["この端末の名前", "Name of this device"],
  deviceLabelHint: ["例: 受付のパソコン", "e.g. reception PC"],
  deviceRegister: ["この端末を登録する", "Register this device"],
  deviceBusy: ["登録しています…", "Registering…"],
  deviceOtherTitle: ["別の端末で使われています", "Already used on another device"],
  deviceOtherText: [
    "この利用者IDは既に別の端末で使われています。この端末も登録しますか？",
    "This user ID is already in use on another device. Register this device too?",
  ],
  deviceOtherNote: [
    "心当たりがない場合は「登録しない」を選び、事務局に連絡してください。どちらを選んでも記録されます。",
    "If you do not expect this, choose “Do not register” and contact the office. Either choice is recorded.",
  ],
  deviceOtherYes: ["登録する", "Register"],
  deviceOtherNo: ["登録しない (ログアウト)", "Do not register (log out)"],
  deviceNoStorage: [
    "このブラウザでは端末の鍵を保存できません (プライベートモードでは使えません)。",
    "This browser cannot store the device key (private browsing is not supported).",
  ],

  // password
  passwordTitle: ["パスワードの変更", "Change your password"],
  passwordForced: [
    "仮パスワードでログインしました。続けるには新しいパスワードに変更してください。",
    "You logged in with a temporary password. Please set a new password to continue.",
  ],
  passwordPolicy: [
    "8文字以上128文字以内で、英字・数字・記号をそれぞれ1文字以上含めてください。使えるのは半角文字だけです (日本語入力をオフにしてください)。利用者IDや機関番号、よく使われるパスワードは使えません。",
    "At least 8 and at most 128 characters, with at least one letter, one digit and one symbol. Half-width (ASCII) characters only. Your user ID, institution number and common passwords are not allowed.",
  ],
  passwordCurrent: ["現在のパスワード", "Current password"],
  passwordNew: ["新しいパスワード", "New password"],
  passwordConfirm: ["新しいパスワード (確認)", "New password (again)"],
  passwordMismatch: [
    "新しいパスワードと確認の入力が一致しません。",
    "The new password and its confirmation differ.",
  ],
  passwordChange: ["パスワードを変更する", "Change password"],
  passwordChanged: ["パスワードを変更しました。", "Your password has been changed."],

  // send
  sendTitle: ["送信", "Send"],
  sendIntro: [
    "健診結果のファイルを選んでアップロードすると、標準フォーマットに変換して結果を表示します。送信先に届くのは「送信確定」を押した後です。",
    "Choose a results file and upload it: it is converted to the standard format and the result is shown. The receiver gets it only after you press “Confirm sending”.",
  ],
  sendReceiver: ["送信先", "Receiver"],
  sendChooseReceiver: ["選んでください", "Please choose"],
  sendNoReceivers: [
    "送信できる送信先がありません。事務局に連絡してください。",
    "No receivers are linked to your institution. Please contact the office.",
  ],
  sendFile: ["送信するファイル", "File to send"],
  sendUpload: ["アップロード", "Upload"],
  sendProgress: ["アップロードの進み具合", "Upload progress"],
  sendEncrypting: ["暗号化しています…", "Encrypting…"],
  sendUploading: ["アップロード中 {percent}%", "Uploading {percent}%"],
  sendConverting: ["変換しています…", "Converting…"],
  sendEncryptingPercent: ["暗号化しています… {percent}%", "Encrypting… {percent}%"],
  sendCancel: ["中止", "Cancel"],
  sendCancelled: [
    "アップロードを中止しました。サーバーには何も保存されていません。",
    "The upload was cancelled. Nothing was stored on the server.",
  ],
  sendMissing: ["送信先とファイルを選んでください。", "Choose a receiver and a file."],

  // transfers list
  transfersSenderTitle: ["送信した転送", "Transfers sent"],
  transfersReceiverTitle: ["届いた転送", "Incoming transfers"],
  transfersEmpty: ["まだありません。", "None yet."],
  colCreated: ["受付日時", "Received at"],
  colReceiver: ["送信先", "Receiver"],
  colSender: ["送信元", "Sender"],
  colRecords: ["件数", "Records"],
  colStatus: ["状態", "Status"],
  colDeleteAfter: ["削除予定", "Deletion"],
  colDetail: ["詳細", "Details"],
  detailLink: ["詳細", "Details"],
  deletionSoon: ["まもなく削除されます", "Will be deleted soon"],
  deletionWarning: [
    "削除予定日を過ぎると、データはすべてのサーバーから完全に削除され、ダウンロードできなくなります (記録とハッシュ値は残ります)。",
    "After the deletion date the data is erased from every server and can no longer be downloaded (the record and hashes remain).",
  ],
  statusConverted: ["変換済み", "Converted"],
  statusSent: ["送信済み", "Sent"],
  statusDownloaded: ["ダウンロード済み", "Downloaded"],
  statusReceived: ["受領確定済み", "Receipt confirmed"],
  statusDiscarded: ["破棄済み", "Discarded"],
  statusDeleted: ["削除済み", "Deleted"],
  transferDamaged: ["破損 (復旧不可)", "Damaged (cannot be recovered)"],
  transferDamagedNote: [
    "このファイルは全ての複製で破損しており、復旧できません。ダウンロードはできません。送信元の健診機関に再送を依頼してください (事務局には通知済みです)。",
    "This file is damaged on every copy and cannot be recovered, so it cannot be downloaded. Ask the sending institution to send it again (the office has been alerted).",
  ],
  transferRepairing: ["修復中", "Being repaired"],
  transferRepairingNote: [
    "修復中 — このファイルに破損が見つかったため、他のノードの複製から修復しています。しばらくしてから再度お試しください。",
    "Being repaired — damage was found in this file and it is being restored from another node's copy. Please try again shortly.",
  ],

  // transfer detail
  transferTitle: ["転送の詳細", "Transfer details"],
  summaryHeading: ["概要", "Summary"],
  fieldSender: ["送信元", "Sender"],
  fieldReceiver: ["送信先", "Receiver"],
  fieldStatus: ["状態", "Status"],
  fieldCreated: ["アップロード", "Uploaded"],
  fieldSent: ["送信確定", "Sent"],
  fieldDownloaded: ["ダウンロード", "Downloaded"],
  fieldReceived: ["受領確定", "Receipt confirmed"],
  fieldDeleteAfter: ["削除予定", "Deletion due"],
  fieldOriginalHash: ["原本ファイルのハッシュ値 (SHA-256)", "Original file hash (SHA-256)"],
  fieldStandardHash: ["標準CSVのハッシュ値 (SHA-256)", "Standard CSV hash (SHA-256)"],
  reportHeading: ["変換の結果", "Conversion result"],
  countRowsIn: ["読み込んだ行", "Rows read"],
  countRecordsOut: ["変換できたレコード", "Records converted"],
  countRowsRejected: ["エラーで除いた行", "Rows rejected (errors)"],
  countRowsIgnored: ["対象外の行", "Rows ignored"],
  countWarnings: ["警告", "Warnings"],
  countErrors: ["エラー", "Errors"],
  reconciled: [
    "件数は一致しています (読み込み = 変換 + 除外 + 対象外)",
    "Counts reconcile (read = converted + rejected + ignored)",
  ],
  notReconciled: ["件数が一致しません", "Counts do not reconcile"],
  issuesHeading: ["指摘", "Issues"],
  issuesNone: ["指摘はありません。", "No issues."],
  issuesTruncated: [
    "指摘が多いため、最初の {shown} 件だけを表示しています (全 {total} 件)。",
    "Showing the first {shown} of {total} issues.",
  ],
  filterSeverity: ["重要度", "Severity"],
  filterCode: ["コード", "Code"],
  filterAll: ["すべて", "All"],
  severityError: ["エラー", "Error"],
  severityWarning: ["警告", "Warning"],
  colSeverity: ["重要度", "Severity"],
  colCode: ["コード", "Code"],
  colRow: ["行", "Row"],
  colColumn: ["列", "Column"],
  colItem: ["項目", "Item"],
  colMessage: ["内容", "Message"],
  issuesShown: ["{shown} 件を表示 (全 {total} 件)", "{shown} of {total} shown"],
  actionsHeading: ["操作", "Actions"],
  confirmSend: ["送信確定", "Confirm sending"],
  discard: ["破棄", "Discard"],
  discardTitle: ["この転送を破棄しますか？", "Discard this transfer?"],
  discardText: [
    "送信先には届かず、アップロードしたデータは直ちに削除されます。",
    "The receiver will not get it, and the uploaded data is deleted at once.",
  ],
  discardYes: ["破棄する", "Discard"],
  sentDone: ["送信を確定しました。", "Sending confirmed."],
  discardDone: ["破棄しました。", "Discarded."],
  download: ["標準CSVをダウンロード", "Download the standard CSV"],
  downloadProgress: ["ダウンロードの進み具合", "Download progress"],
  downloading: ["ダウンロード中 {percent}%", "Downloading {percent}%"],
  downloadDone: [
    "ダウンロードしました。内容を確認したら「受領確定」を押してください。",
    "Downloaded. After checking it, press “Confirm receipt”.",
  ],
  saveAsItArrives: [
    "保存先を先に選び、届いた分から書き込む (大きなファイル向け)",
    "Choose where to save first and write it as it arrives (for large files)",
  ],
  downloadCancel: ["中止", "Cancel"],
  downloadCancelled: [
    "ダウンロードを中止しました。ファイルは保存されていません。",
    "The download was cancelled. No file was saved.",
  ],
  confirmReceipt: ["受領確定", "Confirm receipt"],
  receiptDone: ["受領を確定しました。", "Receipt confirmed."],

  // trail
  trailHeading: ["操作の証跡", "Audit trail"],
  trailIntro: [
    "各記録は、このブラウザの中で、署名付きチェックポイントと包含証明により検証しています。",
    "Each entry is verified in this browser against the signed checkpoint with its inclusion proof.",
  ],
  trailLoad: ["証跡を検証する", "Verify the trail"],
  trailVerifying: ["検証しています…", "Verifying…"],
  trailAllVerified: [
    "すべての記録を検証しました (台帳の大きさ {size})。",
    "All entries verified (ledger size {size}).",
  ],
  trailFailed: [
    "検証に失敗した記録があります。内容が改ざんされているおそれがあります。事務局に連絡してください。",
    "Some entries failed verification. The record may have been tampered with. Please contact the office.",
  ],
  verified: ["検証済み", "Verified"],
  verifyFailed: ["検証失敗", "Verification failed"],
  trailWho: ["誰が", "Who"],
  trailWhen: ["いつ", "When"],
  trailDevice: ["端末", "Device"],
  trailNoDevice: ["(署名なし)", "(not signed)"],
  opUpload: ["アップロード", "Upload"],
  opConversion: ["変換", "Conversion"],
  opSend: ["送信確定", "Sending confirmed"],
  opDownload: ["ダウンロード", "Download"],
  opReceipt: ["受領確定", "Receipt confirmed"],
  opDeletion: ["削除", "Deletion"],
  opSeal: ["電子署名・タイムスタンプ", "Signature and time stamp"],
  trailSigner: ["署名者", "Signer"],
  trailStamp: ["タイムスタンプ (RFC 3161)", "Time stamp (RFC 3161)"],
  opOther: ["その他の操作", "Other operation"],
  outcomeFailure: ["(失敗)", "(failed)"],

  // verify page
  verifyTitle: ["検証", "Verify"],
  verifyIntro: [
    "受け取った(または送った)ファイルが、送信されたときのままかを確かめます。ファイルはこのパソコンから外に出ません。ハッシュ値 (ファイルの指紋) だけを計算して照会します。",
    "Check that a file you received (or sent) is exactly what was sent. The file never leaves this computer: only its hash (a fingerprint) is computed and looked up.",
  ],
  verifyFileHeading: ["ファイルで確かめる", "Check a file"],
  verifyFile: ["検証するファイル", "File to verify"],
  verifyDrop: ["ここにファイルをドロップすることもできます", "You can also drop a file here"],
  verifyFileButton: ["ファイルを検証", "Verify the file"],
  verifyRecordHeading: ["1件のレコードで確かめる", "Check one record"],
  verifyRecord: ["CSVの1レコード", "One CSV record"],
  verifyRecordHint: [
    "標準CSVの1行 (見出しの行を除く) をそのまま貼り付けてください。",
    "Paste one line of the standard CSV (not the header line) exactly as it is.",
  ],
  verifyRecordButton: ["レコードを検証", "Verify the record"],
  verifyHashing: ["ハッシュ値を計算しています… {percent}%", "Computing the hash… {percent}%"],
  verifyLooking: ["照会して検証しています…", "Looking up and verifying…"],
  verifyFileOk: [
    "このファイルは {date}に {sender} から送信され、改ざんされていません。",
    "This file was sent by {sender} on {date} and has not been altered.",
  ],
  verifyFileOkUnsent: [
    "このファイルは {date}に {sender} がアップロードしたもの (まだ送信確定前) で、改ざんされていません。",
    "This file was uploaded by {sender} on {date} (not yet sent) and has not been altered.",
  ],
  verifyRecordOk: [
    "このレコードは {date}に {sender} から送信されたファイルに含まれており、改ざんされていません。",
    "This record is part of a file sent by {sender} on {date} and has not been altered.",
  ],
  verifyNotFound: [
    "このファイルの記録は見つかりませんでした。内容が変更されている可能性があります。",
    "No record of this file was found. Its content may have been changed.",
  ],
  verifyRecordNotFound: [
    "このレコードの記録は見つかりませんでした。内容が変更されている可能性があります。",
    "No record of this record was found. Its content may have been changed.",
  ],
  verifyBroken: [
    "記録は見つかりましたが、証明の検証に失敗しました。台帳が改ざんされているおそれがあります。事務局に連絡してください。",
    "A record was found, but its proof failed to verify. The ledger may have been tampered with. Please contact the office.",
  ],
  verifyHashLabel: ["計算したハッシュ値 (SHA-256)", "Computed hash (SHA-256)"],
  verifyNothing: ["ファイルを選ぶか、レコードを貼り付けてください。", "Choose a file or paste a record."],
  verifyDetails: ["検証の詳細", "Verification details"],
  verifyCheckpoint: [
    "署名付きチェックポイント: {origin}、台帳の大きさ {size} (署名を検証しました)",
    "Signed checkpoint: {origin}, ledger size {size} (signature verified)",
  ],

  // verifier key
  vkeyLabel: ["台帳の検証鍵", "Ledger verifier key"],
  vkeyPinnedNow: ["この端末に初めて記録しました", "pinned in this browser now"],
  vkeyPinned: ["この端末に記録済みの鍵と一致", "matches the key pinned in this browser"],
  vkeyChanged: [
    "台帳の検証鍵が変わりました。以前この端末に記録した鍵と違う鍵をサーバーが示しています。検証結果は信用できません。事務局に連絡してください。",
    "The ledger verifier key has changed: the server presents a different key from the one pinned in this browser. Verification results cannot be trusted. Please contact the office.",
  ],
  vkeyUnavailable: ["台帳の検証鍵を取得できません", "The ledger verifier key is unavailable"],

  // admin
  adminTitle: ["事務局", "Office"],
  adminNoResults: [
    "事務局の画面では健診結果は表示されません (件数・コード・ハッシュ値のみ)。",
    "Office pages never show checkup results (counts, codes and hashes only).",
  ],
  instHeading: ["機関の一覧", "Institutions"],
  instCreateHeading: ["機関の登録", "Register an institution"],
  instKind: ["種別", "Kind"],
  kindSender: ["健診機関 (送信)", "Checkup provider (sender)"],
  kindReceiver: ["健診実施主体・代行機関 (受信)", "Insurer or agent (receiver)"],
  kindOffice: ["事務局", "Office"],
  instName: ["名称", "Name"],
  instNumber: ["番号", "Number"],
  instNumberHint: [
    "健診機関は10桁の健診機関番号、受信機関は保険者番号など",
    "Senders: 10-digit provider number; receivers: insurer number or similar",
  ],
  instCreate: ["機関を登録", "Register"],
  instCreated: ["{name} を登録しました。", "{name} registered."],
  colInstId: ["機関ID", "Institution ID"],
  colKind: ["種別", "Kind"],
  colName: ["名称", "Name"],
  colNumber: ["番号", "Number"],
  colInstStatus: ["状態", "Status"],
  colActions: ["操作", "Actions"],
  instActive: ["利用中", "Active"],
  instDisabled: ["利用不可", "Disabled"],
  issueId: ["利用者IDを発行", "Issue user ID"],
  issueCertificate: ["証明書を発行", "Issue certificate"],
  disableInst: ["利用不可にする", "Disable"],
  disableTitle: ["{name} を利用不可にしますか？", "Disable {name}?"],
  disableText: [
    "ログインできなくなり、証明書はすべて失効します。元に戻すことはできません。",
    "It can no longer log in and all its certificates are revoked. This cannot be undone.",
  ],
  disableYes: ["利用不可にする", "Disable"],
  disabledDone: ["{name} を利用不可にしました。", "{name} disabled."],
  secretTitle: ["一度だけ表示します", "Shown only once"],
  secretNote: [
    "この画面を閉じると二度と表示できません。控えて、決められた方法で機関に伝えてください。",
    "Once closed this cannot be shown again. Note it down and pass it on through the agreed channel.",
  ],
  secretLoginId: ["利用者ID", "User ID"],
  secretTempPassword: ["仮パスワード", "Temporary password"],
  secretP12Password: ["証明書ファイル (PKCS#12) のパスワード", "Certificate file (PKCS#12) password"],
  secretFingerprint: ["証明書のフィンガープリント", "Certificate fingerprint"],
  secretDownloadP12: ["証明書ファイル (.p12) を保存", "Save the certificate file (.p12)"],
  mappingHeading: ["マッピングの登録", "Register a mapping"],
  mappingInst: ["機関", "Institution"],
  mappingFile: ["マッピングファイル", "Mapping file"],
  mappingSample: ["試験用サンプル (任意)", "Sample export for a test run (optional)"],
  mappingSampleNote: [
    "サンプルはメモリ上で試験変換するだけで、保存されません。結果は件数と指摘コードだけを表示します。",
    "The sample is converted in memory as a test and never stored. Only counts and issue codes are shown.",
  ],
  mappingSubmit: ["試験変換して登録", "Test and register"],
  mappingDone: ["マッピング「{name}」を登録しました。", "Mapping “{name}” registered."],
  mappingSampleResult: ["試験変換の結果", "Test run result"],
  linksHeading: ["送受信の結び付け", "Sender–receiver links"],
  linkSender: ["送信機関", "Sender"],
  linkReceiver: ["受信機関", "Receiver"],
  linkSubmit: ["結び付ける", "Link"],
  linkDone: ["結び付けました。", "Linked."],
  resetHeading: ["パスワードの再設定", "Password reset"],
  resetLoginId: ["利用者ID", "User ID"],
  resetRequestedBy: ["依頼者", "Requested by"],
  resetRequestedByHint: ["依頼書に書かれた氏名と役職", "Name and role as on the request form"],
  resetConfirmedHow: ["確認方法", "How it was confirmed"],
  resetConfirmedHowHint: ["例: 登録番号に折り返し電話して確認", "e.g. called back the registered number"],
  resetSubmit: ["パスワードを再設定", "Reset password"],
  inventoryHeading: ["棚卸表", "Inventory"],
  inventoryDownload: ["棚卸表をダウンロード", "Download the inventory"],
  certsTitle: ["証明書", "Certificates"],
  colSerial: ["シリアル番号", "Serial"],
  colLoginId: ["利用者ID", "User ID"],
  colInstitution: ["機関", "Institution"],
  colFingerprint: ["フィンガープリント", "Fingerprint"],
  colNotAfter: ["有効期限", "Valid until"],
  colRevoked: ["失効", "Revoked"],
  revoke: ["失効", "Revoke"],
  revokeTitle: ["証明書 {serial} を失効させますか？", "Revoke certificate {serial}?"],
  revokeReason: ["失効の理由", "Reason for revocation"],
  revokeYes: ["失効させる", "Revoke"],
  revokeDone: ["失効させました。", "Revoked."],
  notRevoked: ["有効", "Valid"],
  monitoringTitle: ["監視", "Monitoring"],
  monAlertDamaged: [
    "警告 {time}: 転送 {transfer} のファイルが全ての複製で破損しています (復旧不可)",
    "Alert {time}: transfer {transfer} is damaged on every copy (cannot be repaired)",
  ],
  monAlert: [
    "警告 {time}: {kind} が {minutes} 分間に {count} 件 (しきい値 {threshold})",
    "Alert {time}: {count} {kind} in {minutes} min (threshold {threshold})",
  ],
  monTimeSynced: [
    "時刻: 同期済み (設定した時刻サーバー: {servers})",
    "Clock: synchronised (configured servers: {servers})",
  ],
  monTimeNotSynced: [
    "時刻: 同期されていません (設定した時刻サーバー: {servers})",
    "Clock: NOT synchronised (configured servers: {servers})",
  ],
  monTimeUnknown: [
    "時刻: 同期状態を確認できません (設定した時刻サーバー: {servers})",
    "Clock: sync status unknown (configured servers: {servers})",
  ],
  monByStatus: ["状態ごとの件数", "Transfers by status"],
  monRuns: ["変換の記録 (新しい順)", "Conversion runs (newest first)"],
  monLedger: ["台帳", "Ledger"],
  monLedgerSize: ["台帳の大きさ", "Ledger size"],
  monCheckpoint: ["最新のチェックポイント", "Latest checkpoint"],
  monBackup: ["最終バックアップ", "Last backup"],
  monNoBackup: ["まだありません", "None yet"],
  monRecordCounts: ["受信機関・月ごとのレコード数", "Records per receiver and month"],
  colMonth: ["月", "Month"],
  colTransfer: ["転送ID", "Transfer ID"],
  colIssueCodes: ["指摘コード", "Issue codes"],
  colCount: ["件数", "Count"],
  refresh: ["最新にする", "Refresh"],
} as const satisfies Record<string, readonly [string, string]>;

const DICT = { ...BASE_DICT, ...WORKING_DAY_DICT, ...SEAL_DICT, ...CLUSTER_DICT };

export type MessageKey = keyof typeof DICT;
export type Vars = Readonly<Record<string, string | number>>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

/** The text of `key` in `lang`, with `{name}` placeholders filled in. */
export function translate(lang: Lang, key: MessageKey, vars: Vars = {}): string {
  let text: string = DICT[key][lang === "ja" ? 0 : 1];
  for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
  return text;
}

export interface I18n {
  readonly lang: Lang;
  readonly t: Translate;
  readonly setLang: (lang: Lang) => void;
  /** Whether dates also show the Japanese era (和暦) next to the Western year. */
  readonly wareki: boolean;
  readonly setWareki: (on: boolean) => void;
}

export const I18nContext = createContext<I18n>({
  lang: "ja",
  t: (key, vars) => translate("ja", key, vars),
  setLang: () => undefined,
  wareki: false,
  setWareki: () => undefined,
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}

const LANG_KEY = "kenshin-lang";
const WAREKI_KEY = "kenshin-wareki";

/** Whether 和暦 was switched on (off unless chosen). */
export function savedWareki(): boolean {
  try {
    return localStorage.getItem(WAREKI_KEY) === "on";
  } catch {
    return false;
  }
}

export function saveWareki(on: boolean): void {
  try {
    localStorage.setItem(WAREKI_KEY, on ? "on" : "off");
  } catch {
    // As for the language: the choice then lasts for this page only.
  }
}

/** The saved language, Japanese unless English was chosen. */
export function savedLang(): Lang {
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "ja";
  } catch {
    return "ja";
  }
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Storage may be unavailable (private mode); the choice then lasts for this page only.
  }
}
