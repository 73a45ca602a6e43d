// The JSONata sandbox's child process (plain JavaScript: it is forked by path, from src/ in tests
// and from dist/ in production). It holds no secret and no connection: it receives an expression
// and an envelope, and answers the body or why there is none. Whatever an expression does here,
// running out of heap or hitting a V8 size limit, ends this process only.
import jsonata from 'jsonata';
import workerpool from 'workerpool';

const compiled = new Map();

function compile(expression, limits) {
  let expr = compiled.get(expression);
  if (!expr) {
    expr = jsonata(expression, { timeout: limits.timeoutMs, stack: limits.maxDepth, sequence: 100_000 });
    if (compiled.size >= 500) compiled.delete(compiled.keys().next().value);
    compiled.set(expression, expr);
  }
  return expr;
}

/** `$pad` builds its padding in one allocation: a width past the result cap is refused before it is made. */
function cappedPad(maxChars) {
  return (str, width, char) => {
    if (Math.abs(Math.trunc(Number(width))) > maxChars)
      throw { code: 'W2001', message: `$pad to ${width} characters is larger than the ${maxChars}-character limit` };
    if (typeof str === 'undefined') return undefined;
    const target = Math.abs(Math.trunc(width));
    const filler = typeof char === 'string' && char.length > 0 ? char : ' ';
    const length = Array.from(str).length;
    if (target <= length) return str;
    const padding = Array.from(filler.repeat(Math.ceil((target - length) / filler.length)))
      .slice(0, target - length)
      .join('');
    return width > 0 ? str + padding : padding + str;
  };
}

async function render(expression, envelopeJson, limits) {
  // The service's deadline for this evaluation starts now (not while this process was starting).
  workerpool.workerEmit('started');
  let result;
  try {
    result = await compile(expression, limits).evaluate(JSON.parse(envelopeJson), {
      pad: cappedPad(limits.maxResultBytes),
    });
  } catch (error) {
    return { ok: false, code: error?.code ?? null, message: error?.message ?? String(error) };
  }
  if (result === undefined)
    return { ok: false, code: null, message: 'the JSONata expression produced nothing for this event' };
  const isText = typeof result === 'string';
  let body;
  try {
    body = isText ? result : JSON.stringify(result);
  } catch (error) {
    return { ok: false, code: null, message: `its result cannot be written as JSON: ${error?.message ?? error}` };
  }
  if (body === undefined) return { ok: false, code: null, message: 'its result cannot be written as JSON' };
  const bytes = Buffer.byteLength(body);
  if (bytes > limits.maxResultBytes)
    return {
      ok: false,
      code: 'size',
      message: `its result is ${bytes} bytes, more than the ${limits.maxResultBytes}-byte limit`,
    };
  return { ok: true, body, isText };
}

workerpool.worker({ render });
