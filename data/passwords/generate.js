// Generates data/passwords/common.txt: passwords people actually pick, built from well-known patterns
// (keyboard walks, digit runs, years, dictionary and romaji words, leet spellings, appended digits and
// symbols) rather than copied from leaked lists, so the file carries no real person's data.
// Run: node data/passwords/generate.js > data/passwords/common.txt
// Entries are lower case (the policy compares case-insensitively), unique and sorted, so the output is
// deterministic and a change to this script shows up as a readable diff.

// Word lists are whitespace-separated text so they stay compact and easy to extend; "#" starts a comment.
function list(text) {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join(" ")
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

const words = list(`
  # generic
  password passwd pass letmein welcome changeme default secret login admin administrator user guest root
  toor test testtest master super superuser system sysadmin manager access hello iloveyou trustno1
  whatever monkey dragon shadow sunshine princess football baseball soccer freedom computer internet
  server network security private temp temporary sample example demo abc123 abcd abcdef abcdefg abcdefgh
  qwerty letmein starwars summer winter spring autumn january april august october december monday friday
  sunday love lucky happy flower angel baby cookie pokemon pikachu doraemon totoro naruto gundam mario
  hellokitty
  # this service and its users
  kenshin kenshinexchange kenkou kenkoushindan tokutei tokuteikenshin hokensidou hospital clinic medical
  medicine health healthcheck checkup doctor nurse patient byouin iryou iryoukikan kensa kensin shinryou
  shinryoujo iin sensei isha kango kangoshi hokenshi yakuzai jimu jimukyoku uketsuke kanri kanrisha tantou
  tantousha hoken kyoukai kenpo kokuho shakai
  # Japanese romaji words and names people use as passwords
  sakura tokyo osaka kyoto nagoya yokohama sapporo fukuoka kobe sendai hiroshima okinawa hokkaido nippon
  nihon japan yamato fujisan arigatou arigato ohayou konnichiwa sayonara himitsu daisuki aishiteru kawaii
  genki ganbare ganbatte neko nekochan inuko tanuki kitsune usagi tanaka suzuki satou takahashi watanabe
  yamamoto nakamura kobayashi katou yoshida yamada sasaki yamaguchi matsumoto inoue kimura hayashi shimizu
  taro hanako ichiro yuki haruka akiko yuko hiroshi takeshi kenji natsu fuyu haru hanabi sushi ramen
  tempura samurai ninja shogun
`);

const walks = list(`
  qwerty qwertyui qwertyuiop asdfgh asdfghjk asdfghjkl zxcvbn zxcvbnm qazwsx qazwsxedc 1qaz2wsx
  1qaz2wsx3edc zaq12wsx zaq1xsw2 1q2w3e4r 1q2w3e4r5t 1q2w3e q1w2e3r4 qweasd qweasdzxc asdzxc qwe123 123qwe
  asd123 zxc123 1234qwer qwer1234 abcd1234 1234abcd aaaa1111 a1b2c3d4 a1s2d3f4 poiuytrewq lkjhgfdsa
  mnbvcxz !qaz2wsx 1qaz@wsx !qaz@wsx qwerty123 asdf1234 zxcv1234 1qazxsw2 qwaszx wasd asdf zxcv qwer hjkl
  yuiop
`);

const digitRuns = list(`
  12345678 123456789 1234567890 0123456789 87654321 98765432 9876543210 11111111 00000000 22222222
  88888888 99999999 12341234 11223344 12121212 13579 24680 1111 1234 4321 0000 7777 2580 147258369 159753
`);

// Appended to keyboard walks; the bare walk is added separately.
const suffixes = list(`
  1 12 123 1234 12345 123456 0 01 11 99 ! !! !!! @ $ * . 1! 12! 123! !1 !123 @1 @123 1@ 123@ _1 _123 -1 ?
`);

function years() {
  const out = [];
  for (let y = 1950; y <= 2035; y++) out.push(String(y));
  return out;
}

// The common single-character substitutions (a→@/4, e→3, i→1/!, o→0, s→$/5, t→7). Each word gets every
// rule applied on its own (to every occurrence of the letter); the most targeted words get every
// combination of rules, which is how "p@ssw0rd" and "k3n$h1n" arise.
const leetRules = list("a@ a4 e3 i1 i! o0 s$ s5 t7").map((pair) => [pair[0], pair[1]]);
const targeted = list("password passwd admin welcome letmein kenshin hospital clinic sakura tokyo");

function leetVariants(word) {
  let out = new Set([word]);
  for (const [from, to] of leetRules) out.add(word.split(from).join(to));
  if (targeted.includes(word)) {
    for (const letter of "aeiost") {
      const next = new Set();
      for (const w of out) {
        for (const [from, to] of [[letter, letter], ...leetRules.filter(([f]) => f === letter)]) {
          next.add(w.split(from).join(to));
        }
      }
      out = next;
    }
  }
  return [...out];
}

const entries = new Set();
const add = (s) => {
  if (s.length >= 4 && s.length <= 128) entries.add(s.toLowerCase());
};

// The checker also strips trailing digits and symbols before looking a password up, so "kenshin2024!"
// is caught by "kenshin"; the suffixed forms below are the most common ones, listed so the file is useful
// on its own as well.
for (const word of words) {
  for (const variant of leetVariants(word)) {
    for (const suffix of ["", "1", "123", "!", "123!"]) add(variant + suffix);
  }
}
for (const walk of walks) {
  add(walk);
  for (const suffix of suffixes) add(walk + suffix);
}
for (const run of digitRuns) {
  for (const suffix of ["", "!", "@", "#", "a", "abc"]) add(run + suffix);
  for (const word of ["a", "abc", "qwe", "pass", "kenshin"]) add(word + run);
}
for (const y of years()) {
  add(y);
  add(y + y);
  for (const word of ["password", "kenshin", "hospital", "sakura", "tokyo", "admin", "welcome"]) {
    add(word + y);
    add(y + word);
  }
}

process.stdout.write([...entries].sort().join("\n") + "\n");
