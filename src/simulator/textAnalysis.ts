// Small, deterministic text heuristics the simulator builds its answers from.
// They aim at answers that read plausibly in a demo, not at linguistic accuracy.

const STOPWORDS = new Set(
  `a about above after again against all also am an and any are as at be because been before being below between both but by
  can could did do does doing down during each else even ever every few for from further get gets got had has have having he her
  here hers him his how however i if in into is it its itself just let like made make many may me might more most much must my
  no nor not now of off on once only or other our ours out over own per please quite rather really said same say says see she
  should since so some such than that the their theirs them then there these they thing things this those though through to too
  under until up upon us use used using very via was we well were what when where whether which while who whom whose why will
  with within without would yet you your yours yourself one two three four five six seven eight nine ten text following below
  above given write give return answer respond reply extract list identify find summarize summarise summary sentence sentences
  keyword keywords words word classify classification sentiment label labels tell provide based short brief explain
  describe show help helps need needs want wants work works know think make makes take takes get way ways lot lots`.split(/\s+/),
);

const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, single: 1, a: 1, an: 1,
};

/** Reads "3", "three" or "a" as a number; undefined otherwise. */
export function readCount(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const lower = word.toLowerCase();
  if (/^\d+$/.test(lower)) return Number(lower);
  return NUMBER_WORDS[lower];
}

/** The words of a text (letters, digits, inner apostrophes and hyphens), in order. */
export function words(text: string): string[] {
  return text.match(/\p{L}[\p{L}\p{N}'’-]*|\p{N}+/gu) ?? [];
}

/** Words that carry meaning: not stopwords, at least 3 letters. */
export function contentWords(text: string): string[] {
  return words(text).filter((word) => word.length >= 3 && !STOPWORDS.has(word.toLowerCase()) && /\p{L}/u.test(word));
}

/** The sentences of a text, trimmed, in order. */
export function sentences(text: string): string[] {
  return (text.match(/[^.!?\n]+(?:[.!?]+|$)/gm) ?? []).map((s) => s.trim()).filter((s) => words(s).length > 0);
}

/**
 * The `count` most frequent content words, most frequent first (ties: the longer,
 * more specific word first, then the first seen), each in the casing of its first
 * use, lower-cased unless it looks like a name or an acronym.
 */
export function topKeywords(text: string, count: number): string[] {
  const stats = new Map<string, { word: string; count: number; first: number; capitalised: boolean }>();
  const all = contentWords(text);
  all.forEach((word, position) => {
    const key = word.toLowerCase();
    const entry = stats.get(key);
    const capitalised = /^\p{Lu}/u.test(word);
    if (entry) {
      entry.count++;
      entry.capitalised &&= capitalised;
    } else stats.set(key, { word, count: 1, first: position, capitalised });
  });
  return [...stats.values()]
    .sort((a, b) => b.count - a.count || Math.min(b.word.length, 10) - Math.min(a.word.length, 10) || a.first - b.first)
    .slice(0, count)
    .map((entry) => (entry.capitalised || /^\p{Lu}+$/u.test(entry.word) ? entry.word : entry.word.toLowerCase()));
}

/**
 * An extractive summary: the `count` sentences whose words are most typical of
 * the text, in their original order, each cut to at most `maxWords` words.
 */
export function summarySentences(text: string, count: number, maxWords = 28): string[] {
  const all = sentences(text);
  if (all.length === 0) return [];
  const frequency = new Map<string, number>();
  for (const word of contentWords(text)) frequency.set(word.toLowerCase(), (frequency.get(word.toLowerCase()) ?? 0) + 1);
  const scored = all.map((sentence, index) => {
    const content = contentWords(sentence);
    const score = content.reduce((sum, word) => sum + (frequency.get(word.toLowerCase()) ?? 0), 0) / Math.sqrt(content.length + 1);
    return { sentence, index, score };
  });
  const chosen = [...scored].sort((a, b) => b.score - a.score || a.index - b.index).slice(0, count);
  return chosen.sort((a, b) => a.index - b.index).map(({ sentence }) => asSentence(sentence, maxWords));
}

/** A fragment made into one sentence: capitalised, at most `maxWords` words, ending with a full stop. */
export function asSentence(fragment: string, maxWords: number): string {
  let parts = fragment.trim().split(/\s+/);
  const cut = parts.length > maxWords;
  if (cut) parts = parts.slice(0, maxWords);
  let sentence = parts.join(' ').replace(/[\s,;:–—-]+$/u, '');
  if (cut || !/[.!?]$/.test(sentence)) sentence = `${sentence.replace(/[.!?]+$/, '')}.`;
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

const POSITIVE = new Set(
  `good great excellent love loved loves lovely amazing awesome happy fantastic wonderful best better perfect nice pleased
  recommend recommended enjoy enjoyed helpful friendly easy delighted impressed superb brilliant glad fast quick smooth
  beautiful satisfied thanks thank outstanding reliable solid fun favourite favorite works worked`.split(/\s+/),
);
const NEGATIVE = new Set(
  `bad terrible awful hate hated poor slow worst worse broken disappointed disappointing angry refund horrible useless late
  rude problem problems issue issues fail failed fails failure crash crashed crashes bug bugs buggy wrong annoying frustrated
  frustrating unhappy sad waste expensive difficult hard confusing cancel cancelled cancelling canceling missing damaged dirty
  error errors`.split(/\s+/),
);
const NEGATIONS = new Set(['not', 'no', 'never', "n't", 'hardly', 'without', "don't", "didn't", "doesn't", "isn't", "wasn't", "won't", "can't"]);

/** True when one of the two words before `tokens[index]` negates it ("not good", "isn't really happy"). Tokens are lower case. */
export function isNegated(tokens: readonly string[], index: number): boolean {
  return [tokens[index - 1], tokens[index - 2]].some((before) => before !== undefined && (NEGATIONS.has(before) || /n['’]t$/.test(before)));
}

/** A lexicon score: above 0 leans positive, below 0 negative; `mixed` when both kinds occur. */
export function sentimentScore(text: string): { score: number; mixed: boolean } {
  const tokens = words(text).map((word) => word.toLowerCase());
  let positive = 0;
  let negative = 0;
  tokens.forEach((word, index) => {
    const negated = isNegated(tokens, index);
    const polarity = POSITIVE.has(word) ? 1 : NEGATIVE.has(word) ? -1 : 0;
    if (polarity === 0) return;
    if (polarity * (negated ? -1 : 1) > 0) positive++;
    else negative++;
  });
  return { score: positive - negative, mixed: positive > 0 && negative > 0 };
}

/**
 * Picks the label a sentiment classifier would give, from the labels offered.
 * Labels that say positive/negative/neutral/mixed (in any wording) are matched
 * to the lexicon score; anything else is chosen by `fallbackIndex`.
 */
export function chooseSentimentLabel(text: string, labels: readonly string[], fallbackIndex: number): string {
  const { score, mixed } = sentimentScore(text);
  const find = (pattern: RegExp) => labels.find((label) => pattern.test(label));
  const positive = find(/^(pos|good|happy|favou?rable|satisf|praise|like)/i);
  const negative = find(/^(neg|bad|unhappy|sad|angry|unfavou?rable|dissatisf|complain|dislike)/i);
  const neutral = find(/^(neu|none|other|unknown|indifferent)/i);
  const mixedLabel = find(/^mix/i);
  if (mixed && mixedLabel) return mixedLabel;
  if (score > 0 && positive) return positive;
  if (score < 0 && negative) return negative;
  if (score === 0 && neutral) return neutral;
  if (score === 0 && positive && negative && !neutral) return positive;
  return labels[fallbackIndex % labels.length]!;
}

const SENTIMENT_WORDS = /^(positive|negative|neutral|mixed)$/i;
const LIST = /["'“‘`]?[\p{L}][\p{L}\p{N}_-]*["'”’`]?(?:\s*(?:,\s*(?:or\s+|and\s+)?|\/|\||\s+or\s+)\s*["'“‘`]?[\p{L}][\p{L}\p{N}_-]*["'”’`]?)+/gu;

/**
 * The labels a classification prompt offers ("as positive, negative or neutral",
 * "one of: bug / feature / question"): the list that names sentiment words, else
 * the last list in the instructions, else positive / negative / neutral.
 */
export function offeredLabels(instructions: string): string[] {
  const lists = [...instructions.matchAll(LIST)].map((match) =>
    match[0]
      .split(/\s*(?:,\s*(?:or\s+|and\s+)?|\/|\||\s+or\s+)\s*/)
      .map((label) => label.replace(/^["'“‘`]|["'”’`]$/g, ''))
      .filter((label) => label.length > 0 && label.length <= 30),
  );
  const candidates = lists.filter((list) => list.length >= 2 && list.length <= 10);
  const sentimentList = candidates.find((list) => list.some((label) => SENTIMENT_WORDS.test(label)));
  const chosen = sentimentList ?? candidates.at(-1);
  return chosen ?? ['positive', 'negative', 'neutral'];
}

/** Words that look like names (capitalised, not at the start of a sentence), in order, without repeats. */
export function properNouns(text: string): string[] {
  const found: string[] = [];
  for (const sentence of sentences(text)) {
    words(sentence)
      .slice(1)
      .forEach((word) => {
        if (/^\p{Lu}\p{Ll}+$/u.test(word) && !STOPWORDS.has(word.toLowerCase()) && !found.includes(word)) found.push(word);
      });
  }
  return found;
}
