/**
 * The search benchmark's corpus (issue 33): message texts in English, Vietnamese (with
 * diacritics), Chinese, Japanese and Persian/Arabic, drawn from fixed vocabularies with a Zipf
 * distribution (the first words of a list are the most frequent, as in real chat) from a seeded
 * generator, so every run builds the same corpus. About 4% of the words of the spaced languages
 * are one-off codes (`ref` + base-36), as ticket numbers and names in real chat, which gives the
 * index its long tail of rare lexemes.
 */

/** A seeded pseudo-random generator (mulberry32): numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** English, roughly by frequency in chat; the queries' words are at known ranks (see QUERIES). */
const ENGLISH = words(`the to and a of is in it you that for on we this be with have are not will can do at so just but get what all if
about me from out up there know one time think now today like need good new meeting please should team work thanks yes when how see
make release back call check deploy review tomorrow update issue build test week project fix client server design report problem
morning lunch afternoon weekend ticket branch merge question idea budget invoice customer schedule deadline document coffee office
holiday travel flight hotel dinner birthday present football music movie weather rain sunny train station airport database backup
password laptop monitor keyboard network printer contract marketing sales launch roadmap sprint retro standup kanban migration latency
cache index query search quick brown fox jumps lazy dog elephant giraffe kangaroo penguin volcano glacier saxophone violin harmonica
tangerine avocado pineapple blueberry espresso cappuccino`);

/** Vietnamese syllables with their diacritics, roughly by frequency. */
const VIETNAMESE = words(`tôi bạn không được có là và của người đi học làm việc nhà ngày hôm nay mai đường phố ăn cơm uống cà phê xin chào
cảm ơn rất vui gặp lại chúng ta họ anh chị em ông bà thầy cô trường lớp sách vở bút máy tính điện thoại tiền mua bán chợ siêu thị xe
buýt tàu hỏa sân bay khách sạn hàng món phở bún bánh mì trà đá nước mưa nắng gió lạnh nóng đẹp xấu tốt mới cũ nhanh chậm họp dự án báo
cáo kiểm tra sửa lỗi cập nhật phát hành hợp đồng Hà Nội Sài Gòn Đà Nẵng Huế tháng năm tuần sáng chiều tối đêm`);

/** Chinese characters, roughly by frequency (猫 and 狗 near the end: rarer). */
const CHINESE = [
  ...'的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音示猫狗茶咖啡',
];

/** Japanese words (kana and kanji), joined without spaces as Japanese is written. */
const JAPANESE = words(`の は が を に で と も です ます した 私 今日 明日 会議 ありがとう よろしく お願いします 東京 大阪 電車 駅 天気 雨 晴れ 仕事
資料 確認 予定 時間 ランチ コーヒー プロジェクト リリース テスト サーバー 問題 修正 来週 週末 新しい 古い 本 映画 音楽 写真 旅行 ホテル
空港 バッタ 鈴虫 猫 犬 桜 富士山 寿司 ラーメン 温泉`);

/** Persian and Arabic words: Persian forms, ZWNJ compounds, and Arabic kaf/yeh spellings. */
const PERSIAN_ARABIC = words(`من تو او ما شما است هست نیست را که از به در با این آن برای کتاب کتاب‌ها خانه کار امروز فردا جلسه سلام ممنون خیلی خوب
بد دانشگاه دانشجو ایران تهران شیراز اصفهان ماشین قهوه چای نان آب باران هوا سرد گرم پروژه گزارش بررسی مشتری قرارداد می‌خواهم می‌روم
نامه علی كتاب علي في على هذا الكتاب مدرسة شكرا مرحبا يوم`);

/** Cumulative Zipf weights (exponent 1) of a list of n items, for sampling by rank. */
function zipf(n: number): Float64Array {
  const c = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) c[i] = sum += 1 / (i + 1);
  for (let i = 0; i < n; i++) c[i] /= sum;
  return c;
}

function pick<T>(list: readonly T[], cumulative: Float64Array, r: number): T {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return list[lo];
}

/** Share of each language among messages (English, Vietnamese, Chinese, Japanese, Persian/Arabic). */
export const LANGUAGE_SHARES = { english: 0.4, vietnamese: 0.15, chinese: 0.2, japanese: 0.1, persianArabic: 0.15 } as const;

/** Message texts from a seed: `next()` gives one message (3 to 20 words, or 4 to 24 CJK characters). */
export function messageTexts(seed: number): { next(): string } {
  const rand = seeded(seed);
  const chinese = CHINESE;
  const z = { en: zipf(ENGLISH.length), vi: zipf(VIETNAMESE.length), zh: zipf(chinese.length), ja: zipf(JAPANESE.length), fa: zipf(PERSIAN_ARABIC.length) };
  const code = () => `ref${Math.floor(rand() * 36 ** 5).toString(36)}`;
  const spaced = (list: string[], cum: Float64Array) => {
    const n = 3 + Math.floor(rand() * 18);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(rand() < 0.04 ? code() : pick(list, cum, rand()));
    return out.join(' ');
  };
  return {
    next() {
      const l = rand();
      if (l < 0.4) return spaced(ENGLISH, z.en);
      if (l < 0.55) return spaced(VIETNAMESE, z.vi);
      if (l < 0.75) {
        const n = 4 + Math.floor(rand() * 21);
        let s = '';
        for (let i = 0; i < n; i++) s += (i && rand() < 0.1 ? '，' : '') + pick(chinese, z.zh, rand());
        return `${s}。`;
      }
      if (l < 0.85) {
        const n = 3 + Math.floor(rand() * 10);
        let s = '';
        for (let i = 0; i < n; i++) s += pick(JAPANESE, z.ja, rand());
        return `${s}。`;
      }
      return spaced(PERSIAN_ARABIC, z.fa);
    },
  };
}

/**
 * The measured queries, per kind, from frequent to rare words (each kind's figure is over all of
 * them in turn; the bench reports each one's number of hits for the member user).
 */
export const QUERIES: Record<string, string[]> = {
  singleWord: ['meeting', 'deploy', 'invoice', 'coffee', 'penguin'],
  twoWords: ['meeting tomorrow', 'deploy server', 'coffee lunch', 'invoice customer', 'penguin volcano'],
  // 的 is the most frequent Chinese character (in most Chinese messages); 猫 one of the rarest; 駅 Japanese.
  oneCjkCharacter: ['的', '人', '海', '猫', '駅'],
  // được, người, đường, cà phê, tôi học typed without diacritics.
  vietnameseWithoutDiacritics: ['duoc', 'nguoi', 'duong', 'ca phe', 'toi hoc'],
  phrase: ['"the team"', '"good morning"', '"deploy the server"', '"tôi được"', '"quick brown"'],
};
