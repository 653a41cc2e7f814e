/* The admin gallery, part 1 of 3 (see admin_gallery.js): DOM helpers and one photo's card, built
 * around the inputs of its formset row. Classic scripts loaded with defer run in order and share
 * window.cmtchGallery. */
(() => {
  "use strict";

  const shared = window.cmtchGallery = window.cmtchGallery || {};
  const PHOTO_FIELDS = ["caption", "credit", "alt_text", "decorative", "focal_x", "focal_y"];
  const RAW_FIELDS = ["id", "article", "photo", "position", "focal_x", "focal_y", "DELETE"];

  /* ---- small helpers ---- */

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function button(text, className, onclick, label) {
    return el("button", {type: "button", class: className, onclick, "aria-label": label}, text);
  }

  function plural(count, word) {
    return count > 1 ? `${word}s` : word;
  }

  function rounded(value) {
    return Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
  }

  /* ---- one photo's card, around the inputs of its formset row ---- */

  class Card {
    constructor(gallery, name) {
      this.gallery = gallery;
      this.inputs = null; // the row's inputs, once the card has a row
      this.node = el("li", {class: "gallery-card", "data-card": ""});
      this.node.card = this;
      this.nameNode = el("span", {class: "gallery-name", text: name});
      this.handle = el("span", {class: "gallery-handle", "aria-hidden": "true", title: "Glisser pour déplacer"}, "⠿");
      this.node.append(el("div", {class: "gallery-card-head"}, this.handle, this.nameNode,
                          el("span", {class: "gallery-cover-badge", text: "Couverture"})));
      this.status = el("div", {class: "gallery-status"});
      this.node.append(this.status);
    }

    get name() {
      return (this.inputs && this.inputs.caption.value.trim()) || this.nameNode.textContent;
    }

    get active() {
      return Boolean(this.inputs) && !this.node.classList.contains("is-removed")
        && !this.node.classList.contains("is-cleared");
    }

    get photoId() {
      return this.inputs ? this.inputs.photo.value : "";
    }

    showStatus(...children) {
      this.status.replaceChildren(...children);
    }

    /* The row's inputs move into the card: what is posted stays Django's formset. */
    attachRow(row, photo) {
      const field = (name) => row.querySelector(`[name$="-${name}"]`);
      this.inputs = Object.fromEntries([...new Set([...RAW_FIELDS, ...PHOTO_FIELDS, "is_cover"])]
        .map((name) => [name, field(name)]));
      this.node.classList.add("has-row");
      this.node.dataset.photoId = this.inputs.photo.value;
      const errors = (name) => {
        const cell = row.querySelector(`.field-${name}`);
        return cell ? [...cell.querySelectorAll(".errorlist")] : [];
      };
      const rowErrors = row.previousElementSibling && row.previousElementSibling.classList.contains("row-form-errors")
        ? [...row.previousElementSibling.querySelectorAll(".errorlist")] : [];
      this.showStatus(...rowErrors, ...["photo", "position", "focal_x", "focal_y"].flatMap(errors));
      if (photo.message) this.showStatus(...this.status.childNodes, el("p", {class: "gallery-waiting"}, `⏳ ${photo.message}`));

      this.node.insertBefore(this.frame(photo), this.status);
      const label = (name) => this.gallery.labels[name];
      const text = (name, extraClass) => el("div", {class: `gallery-field ${extraClass || ""}`},
                                            el("label", {for: this.inputs[name].id, text: label(name)}),
                                            this.inputs[name], ...errors(name));
      const check = (name, title) => el("div", {class: "gallery-check"}, this.inputs[name],
                                        el("label", {for: this.inputs[name].id, text: label(name), title}),
                                        ...errors(name));
      this.altField = text("alt_text", "gallery-alt");
      this.inputs.alt_text.setAttribute("aria-required", "true");
      this.fields = el("div", {class: "gallery-fields"}, text("caption"), text("credit"), this.altField,
                       el("div", {class: "gallery-checks"},
                          check("decorative", "Rien à décrire : les lecteurs d'écran l'ignorent, pas de texte alternatif."),
                          check("is_cover", "La photo de l'article sur les listes et en tête de page.")));
      this.inputs.decorative.addEventListener("change", () => this.showDecorative());
      this.inputs.is_cover.addEventListener("change", () => this.gallery.coverChanged(this));
      this.raw = el("div", {class: "gallery-raw", hidden: true},
                    ...RAW_FIELDS.map((name) => this.inputs[name]).filter(Boolean));
      this.restore = button("Remettre dans l'article", "gallery-restore", () => this.gallery.restore(this));
      const move = (text, step, verb, keys) => {
        const control = button(text, `gallery-${step < 0 ? "up" : "down"}`, () => this.gallery.move(this, step),
                               `${verb} ${this.nameNode.textContent}`);
        control.title = `${verb} (${keys} sur la photo)`;
        control.setAttribute("aria-keyshortcuts", keys.replace("↑", "ArrowUp").replace("↓", "ArrowDown"));
        return control;
      };
      this.node.append(this.fields, el("div", {class: "gallery-actions"},
        move("↑", -1, "Monter", "Alt+↑"), move("↓", 1, "Descendre", "Alt+↓"),
        button("Retirer de l'article", "gallery-remove", () => this.gallery.remove(this)),
        this.restore), this.raw);
      this.restore.hidden = true;
      this.showDecorative();
      this.showCover();
      this.node.tabIndex = -1; // focused after a retry or a restore
      // Dragged by its head only: a drag started in a text field selects text as usual.
      this.node.querySelector(".gallery-card-head").draggable = true;
    }

    /* The thumbnail: a click (or the arrow keys) sets the focal point the crops follow. */
    frame(photo) {
      if (!photo.thumbnail_url || photo.state === "pending") {
        return el("div", {class: "gallery-frame is-empty"}, el("span", {text: "Aperçu quand la photo sera sur HostGator"}));
      }
      this.image = el("img", {src: photo.thumbnail_url, alt: "", class: "gallery-thumb", draggable: "false"});
      this.marker = el("span", {class: "gallery-focal", "aria-hidden": "true"});
      const focus = el("span", {class: "gallery-focus", tabindex: "0", role: "group",
                                "aria-label": "Point d'intérêt : cliquez sur la photo, ou flèches pour le déplacer"},
                       this.image, this.marker);
      this.image.addEventListener("click", (event) => {
        const box = this.image.getBoundingClientRect();
        this.setFocal((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
      });
      focus.addEventListener("keydown", (event) => {
        const steps = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]}[event.key];
        if (!steps || event.altKey) return;
        event.preventDefault();
        this.setFocal(Number(this.inputs.focal_x.value) + steps[0] * 0.05,
                      Number(this.inputs.focal_y.value) + steps[1] * 0.05);
      });
      this.showFocal();
      return el("div", {class: "gallery-frame"}, focus);
    }

    setFocal(x, y) {
      this.inputs.focal_x.value = rounded(x);
      this.inputs.focal_y.value = rounded(y);
      this.showFocal();
      this.gallery.announce(`Point d'intérêt : ${Math.round(rounded(x) * 100)} % depuis la gauche, `
                            + `${Math.round(rounded(y) * 100)} % depuis le haut.`);
    }

    showFocal() {
      if (!this.marker) return;
      // CSSOM from a script file: allowed by the policy, unlike a style attribute.
      this.marker.style.left = `${Number(this.inputs.focal_x.value) * 100}%`;
      this.marker.style.top = `${Number(this.inputs.focal_y.value) * 100}%`;
    }

    showDecorative() {
      const decorative = this.inputs.decorative.checked;
      this.altField.hidden = decorative;
      this.node.classList.toggle("is-decorative", decorative);
    }

    showCover() {
      this.node.classList.toggle("is-cover", this.inputs.is_cover.checked && this.active);
    }

    fill(photo) {
      this.inputs.photo.value = photo.id;
      this.node.dataset.photoId = String(photo.id);
      for (const name of PHOTO_FIELDS) {
        const input = this.inputs[name];
        if (input.type === "checkbox") input.checked = Boolean(photo[name]);
        else input.value = photo[name] === null || photo[name] === undefined ? "" : photo[name];
      }
      this.showDecorative();
      this.showFocal();
    }
  }

  Object.assign(shared, {el, button, plural, Card});
})();
