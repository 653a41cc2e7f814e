// The article page's lightbox: a click on a photo (the cover or one of the gallery) opens it large in
// the page's <dialog class="lightbox">, with its caption and "Photo N sur M"; the buttons, the arrow
// keys and a swipe go to the previous or next photo, Échap (or a click beside the photo) closes it, and
// the focus goes back to the photo that was clicked. Each photo is a link to its largest file, so
// without this script a click simply opens the photo. No inline style anywhere (the CSP forbids it):
// the look changes by classes only.
(() => {
  "use strict";

  const dialog = document.querySelector("dialog.lightbox");
  const links = Array.from(document.querySelectorAll("a.photo-link"));
  if (!dialog || !links.length || typeof dialog.showModal !== "function") {
    return;
  }
  const SWIPE_PX = 40; // a horizontal move at least this long, and mostly horizontal, is a swipe
  const counter = dialog.querySelector(".lightbox-count");
  const caption = dialog.querySelector(".lightbox-caption");
  const previous = dialog.querySelector(".lightbox-prev");
  const next = dialog.querySelector(".lightbox-next");
  const image = document.createElement("img");
  image.className = "lightbox-image";
  image.alt = "";
  image.decoding = "async";
  image.draggable = false;
  // In a <picture> of its own, which each photo's sources fill: the screen's width chooses the file.
  const picture = document.createElement("picture");
  picture.className = "lightbox-picture";
  picture.append(image);
  dialog.querySelector(".lightbox-figure").prepend(picture);
  image.addEventListener("load", () => image.classList.remove("is-loading"));
  image.addEventListener("error", () => image.classList.remove("is-loading"));

  let current = 0;
  let opener = null;

  function show(index) {
    if (index < 0 || index >= links.length) {
      return;
    }
    current = index;
    const link = links[index];
    const thumbnail = link.querySelector("img");
    const figcaption = link.closest("figure")?.querySelector("figcaption");
    if (image.getAttribute("src") !== link.href) {
      image.classList.add("is-loading");
      // The photo's own formats and widths (its AVIF, its WebP, its JPEG copies), chosen for the
      // whole screen: a phone takes the file it can show, not the link's full-size JPEG.
      const sources = Array.from(link.querySelectorAll("picture source"), (source) => {
        const copy = source.cloneNode();
        copy.sizes = "100vw";
        return copy;
      });
      picture.replaceChildren(...sources, image);
      image.sizes = "100vw";
      image.srcset = thumbnail ? thumbnail.srcset : "";
      image.src = link.href;
    }
    image.alt = thumbnail ? thumbnail.alt : "";
    caption.textContent = figcaption ? figcaption.textContent.trim() : "";
    counter.textContent = dialog.dataset.counter.replace("{n}", index + 1).replace("{m}", links.length);
    const focused = document.activeElement;
    previous.disabled = index === 0;
    next.disabled = index === links.length - 1;
    if (focused === previous || focused === next) {
      // A button just disabled at the first or last photo would drop the focus out of the dialog.
      (focused.disabled ? (focused === previous ? next : previous) : focused).focus();
    }
  }

  function open(index, from) {
    opener = from;
    show(index);
    document.documentElement.classList.add("lightbox-open");
    dialog.showModal();
  }

  links.forEach((link, index) => {
    link.addEventListener("click", (event) => {
      // A new tab or window (Ctrl/⌘/Maj-click, middle button) keeps the link's own behaviour.
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return;
      }
      event.preventDefault();
      open(index, link);
    });
  });

  previous.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  // Put the page back at once (the dialog's own "close" event comes a task later, and a reader's next
  // key or scroll should not find the page still locked); the "close" event covers any other way out.
  function restore() {
    document.documentElement.classList.remove("lightbox-open");
    if (opener) {
      const from = opener;
      opener = null;
      from.focus();
    }
  }

  function close() {
    dialog.close();
    restore();
  }

  dialog.querySelector(".lightbox-close").addEventListener("click", close);

  document.addEventListener("keydown", (event) => {
    if (!dialog.open) {
      return;
    }
    if (event.key === "ArrowLeft") {
      event.preventDefault();
      show(current - 1);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      show(current + 1);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  dialog.addEventListener("close", restore);

  // Swipes, with pointer events (touch, pen or mouse): the CSS lets the browser keep vertical pans
  // and pinch-zoom only (touch-action), so a horizontal move reaches us.
  let start = null;
  let swiped = false;
  dialog.addEventListener("pointerdown", (event) => {
    start = event.isPrimary ? { x: event.clientX, y: event.clientY } : null;
    swiped = false;
  });
  dialog.addEventListener("pointercancel", () => {
    start = null;
  });
  dialog.addEventListener("pointerup", (event) => {
    if (!start) {
      return;
    }
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    start = null;
    if (Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > 1.5 * Math.abs(dy)) {
      swiped = true;
      show(dx < 0 ? current + 1 : current - 1);
    }
  });

  // A click beside the photo (on the dark background, which is the dialog itself) closes it; the
  // click that ends a swipe does not.
  dialog.addEventListener("click", (event) => {
    if (swiped) {
      swiped = false;
      return;
    }
    if (event.target === dialog || event.target.classList.contains("lightbox-figure")) {
      close();
    }
  });
})();
