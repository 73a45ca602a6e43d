/** The URL the app's data source connects to (resolved before the app starts). */
export const DATABASE_URL = Symbol('DATABASE_URL');
