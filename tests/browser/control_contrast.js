// Non-text contrast of controls (WCAG 1.4.11), which axe-core does not check: every visible,
// enabled input, select, textarea, checkbox, radio and button must show its boundary at 3:1 or
// more against what lies behind it: its border (outline and form controls) or its fill (filled
// buttons), whichever stands out more. Controls with neither (link-like buttons) have no
// boundary to measure. Returns the failures, one object per control.
(() => {
  const MINIMUM = 3;
  const SELECTOR =
    "input:not([type=hidden]), select, textarea, button, .btn, [role=button], [role=switch]";

  function parse(text) {
    const match = text.match(/^rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\)$/);
    if (!match) throw new Error(`control contrast: cannot read the colour ${text}`);
    let alpha = match[4] === undefined ? 1 : parseFloat(match[4]);
    if (match[4] && match[4].endsWith("%")) alpha /= 100;
    return { r: +match[1], g: +match[2], b: +match[3], a: alpha };
  }

  function over(top, bottom) {
    const mix = (t, b) => t * top.a + b * (1 - top.a);
    return { r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a: 1 };
  }

  // WCAG 2 relative luminance and contrast ratio.
  function luminance(colour) {
    const channel = (value) => {
      const c = value / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b);
  }

  function ratio(one, other) {
    const [light, dark] = [luminance(one), luminance(other)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  }

  // The colour behind an element: its ancestors' backgrounds, composited over the white canvas.
  function behind(element) {
    const layers = [];
    for (let node = element.parentElement; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a >= 1) break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 });
  }

  function shown(element, style) {
    const box = element.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) return false;
    if (style.clip !== "auto" || style.clipPath !== "none") return false;  // visually hidden
    return element.checkVisibility({ opacityProperty: true, visibilityProperty: true });
  }

  function describe(element) {
    const name = (element.getAttribute("aria-label") || element.textContent || element.name ||
      element.id || "").trim().replace(/\s+/g, " ").slice(0, 40);
    const classes = [...element.classList].slice(0, 3).join(".");
    return `<${element.tagName.toLowerCase()}${element.type ? ` type=${element.type}` : ""}` +
      `${classes ? ` .${classes}` : ""}> "${name}"`;
  }

  const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");

  const failures = [];
  for (const element of document.querySelectorAll(SELECTOR)) {
    // Inactive controls are exempt (WCAG 1.4.11), as is what assistive technology never meets.
    if (element.disabled || element.matches(".disabled, [aria-disabled=true]")) continue;
    if (element.closest("fieldset:disabled, [inert], [aria-hidden=true]")) continue;
    const style = getComputedStyle(element);
    if (!shown(element, style)) continue;
    const back = behind(element);
    const fill = parse(style.backgroundColor);
    const candidates = [];
    if (fill.a > 0) candidates.push({ part: "fill", colour: over(fill, back) });
    for (const side of ["Top", "Right", "Bottom", "Left"]) {
      if (style[`border${side}Style`] === "none" || parseFloat(style[`border${side}Width`]) === 0) continue;
      const border = parse(style[`border${side}Color`]);
      if (border.a > 0) candidates.push({ part: "border", colour: over(border, back) });
    }
    if (!candidates.length) continue;  // no boundary drawn (a button that looks like a link)
    const best = candidates
      .map((c) => ({ ...c, ratio: ratio(c.colour, back) }))
      .reduce((a, b) => (b.ratio > a.ratio ? b : a));
    if (best.ratio < MINIMUM) {
      failures.push({
        control: describe(element),
        part: best.part,
        colour: hex(best.colour),
        background: hex(back),
        ratio: Math.round(best.ratio * 100) / 100,
      });
    }
  }
  return failures;
})()
