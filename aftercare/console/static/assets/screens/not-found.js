import { fill, h } from "../dom.js";

export function render(ctx) {
  ctx.setTitle("Not found");
  fill(
    ctx.main,
    h("h1", { tabindex: "-1" }, "This page does not exist"),
    h("p", {}, "The link may be old or mistyped. ", h("a", { href: "/console" }, "Go to the alerts"), "."),
  );
}
