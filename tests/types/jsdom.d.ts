// jsdom ships no types; the tests use only this of it (a window for mermaid's parser).
declare module 'jsdom' {
  export class JSDOM {
    constructor(html: string);
    window: Window & typeof globalThis;
  }
}
