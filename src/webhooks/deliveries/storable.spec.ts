import { describe, expect, it } from 'vitest';
import { cutText, storableHeaders, storableText } from './storable.js';

describe('storable text', () => {
  it('cuts before a surrogate pair rather than between its halves', () => {
    const text = 'a'.repeat(5) + '😀' + 'b';
    expect(cutText(text, 6)).toBe('aaaaa');
    expect(cutText(text, 7)).toBe('aaaaa😀');
    expect(cutText(text, 100)).toBe(text);
    expect(cutText('abc', 2)).toBe('ab');
  });

  it('strips lone surrogates and NUL, keeps pairs', () => {
    expect(storableText('x\uD83Dy')).toBe('xy');
    expect(storableText('x\uDE00y')).toBe('xy');
    expect(storableText('x\uD83D')).toBe('x');
    expect(storableText('\uDE00\uD83D')).toBe('');
    expect(storableText('ok 😀 \u0000end')).toBe('ok 😀 end');
  });

  it('cleans header names and values', () => {
    expect(storableHeaders({ 'x-a': 'v\uD800', 'x-\u0000b': 'w' })).toEqual({ 'x-a': 'v', 'x-b': 'w' });
    expect(storableHeaders(null)).toBeNull();
  });
});
