import { asSentence, chooseSentimentLabel, offeredLabels, properNouns, readCount, sentimentScore, summarySentences, topKeywords } from '../../src/simulator/textAnalysis';

describe('textAnalysis', () => {
  it.each([
    ['Classify the sentiment as positive, negative, or neutral.', ['positive', 'negative', 'neutral']],
    ['Answer with one word: "Happy" | "Unhappy"', ['Happy', 'Unhappy']],
    ['Label it bug/feature/question please', ['bug', 'feature', 'question']],
    ['Tell me how it feels', ['positive', 'negative', 'neutral']],
  ])('offeredLabels(%j)', (instructions, labels) => {
    expect(offeredLabels(instructions)).toEqual(labels);
  });

  it('scores sentiment with negation, and flags mixed texts', () => {
    expect(sentimentScore('great and fast')).toEqual({ score: 2, mixed: false });
    expect(sentimentScore('not great')).toEqual({ score: -1, mixed: false });
    expect(sentimentScore('great food, terrible service')).toEqual({ score: 0, mixed: true });
    // A complaint in support-ticket words (the demo's second sample text) leans negative.
    expect(sentimentScore('closed my ticket without fixing the billing error. I am cancelling my subscription.').score).toBe(-2);
    expect(chooseSentimentLabel('great food, terrible service', ['positive', 'negative', 'mixed'], 0)).toBe('mixed');
    expect(chooseSentimentLabel('it is a chair', ['yes', 'no'], 1)).toBe('no');
  });

  it('ranks keywords by frequency, then length, then first use, keeping names capitalised', () => {
    expect(topKeywords('Lisbon has trams. Trams are old. Lisbon loves trams and pastries.', 3)).toEqual(['trams', 'Lisbon', 'pastries']);
  });

  it('builds summaries from whole sentences of the text', () => {
    const text = 'Cats sleep a lot. Cats and dogs play. Dogs bark at cats sometimes.';
    expect(summarySentences(text, 1)).toEqual(['Dogs bark at cats sometimes.']); // the most words typical of the text
    expect(summarySentences(text, 2)).toEqual(['Cats and dogs play.', 'Dogs bark at cats sometimes.']); // in the text's order
    expect(asSentence('one two three four', 2)).toBe('One two.');
  });

  it('reads counts and finds names', () => {
    expect([readCount('3'), readCount('five'), readCount('a'), readCount('many')]).toEqual([3, 5, 1, undefined]);
    expect(properNouns('We flew from Oslo to Rome. Then Rome again.')).toEqual(['Oslo', 'Rome']);
  });
});
