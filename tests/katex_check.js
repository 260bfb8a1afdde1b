// Reads a JSON list of [latex, displayMode] pairs on stdin; prints one line per failure.
const katex = require("katex");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let failures = 0;
  for (const [tex, display] of JSON.parse(input)) {
    try {
      katex.renderToString(tex, { displayMode: display, throwOnError: true, strict: "error" });
    } catch (error) {
      failures += 1;
      console.log(`${error.message} :: ${tex}`);
    }
  }
  process.exit(failures ? 1 : 0);
});
