/**
 * Creates an array of elements split into groups the length of `size`.
 *
 * @param {Array} array The array to process.
 */
function chunk(array, size) {
  const out = [];
  for (let i = 0; i < array.length; i += size) out.push(array.slice(i, i + size));
  return out;
}

/**
 * Checks whether a value is a plain object created by Object.
 */
const isPlain = (value) => {
  if (value === null) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
};

// just a comment, not JSDoc
function helper(a) {
  const b = a;
  return b;
}
