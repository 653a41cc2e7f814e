/* The article's photo gallery in the admin, as progressive enhancement of Django's tabular inline
 * (prefix "placements"). Without JavaScript the table and the "Ajouter une photo" fieldset work as
 * they are; with it, each row becomes a card (thumbnail, caption, credit, alt text, cover, focal
 * point, order), photos are dropped or chosen several at once and each goes in a request of its
 * own to the upload endpoint, and photos of the library can be picked in a dialog.
 *
 * The row's own inputs are moved into its card, so what the form posts is still Django's formset:
 * the server stays the one judge (alt text required unless decorative, one photo per article...).
 * No inline style anywhere (the Content-Security-Policy forbids it): classes, and CSSOM writes for
 * the focal marker only. Classic scripts loaded with defer: document.currentScript holds the URLs.
 *
 * Three files, loaded in this order: admin_gallery_card.js (a photo's card), admin_gallery_requests.js
 * (uploads and library search), this one (the inline made into cards).
 */
(() => {
  "use strict";

  const script = document.currentScript;
  const PREFIX = "placements";
  const {el, button, Card, Uploads, Library} = window.cmtchGallery;

  /* ---- the gallery: the inline made into cards ---- */

  class Gallery {
    constructor(group, urls) {
      this.group = group;
      this.form = group.closest("form");
      this.table = group.querySelector("table");
      this.template = document.getElementById(`${PREFIX}-empty`);
      this.total = document.getElementById(`id_${PREFIX}-TOTAL_FORMS`);
      this.labels = Object.fromEntries([...this.table.querySelectorAll("thead th")]
        .map((th) => [(th.className.match(/column-(\w+)/) || [])[1], th.textContent.trim()])
        .filter(([name]) => name));
      this.uploads = new Uploads(this, urls.upload);
      this.library = urls.search ? new Library(this, urls.search) : null;
      this.build();
      for (const row of this.table.querySelectorAll(`tbody tr.form-row:not(.empty-form)`)) {
        const card = new Card(this, this.existingName(row));
        card.attachRow(row, this.existingPhoto(row));
        this.list.append(card.node);
        if (card.inputs.DELETE && card.inputs.DELETE.checked) this.showRemoved(card, true); // a refused save
      }
      this.renumber();
      this.table.hidden = true;
      const noScriptAdd = this.form.querySelector("fieldset.photo-add");
      if (noScriptAdd && !noScriptAdd.querySelector(".errorlist")) noScriptAdd.hidden = true;
      this.form.addEventListener("submit", (event) => this.beforeSubmit(event));
    }

    build() {
      const files = el("input", {type: "file", id: "gallery-files", multiple: true, accept: "image/*",
                                 class: "gallery-files"});
      files.addEventListener("change", () => { this.addFiles(files.files); files.value = ""; });
      this.zone = el("div", {class: "gallery-drop"},
        el("p", {class: "gallery-drop-text"}, "Déposez vos photos ici ou ", files,
           el("label", {for: files.id, class: "gallery-choose", text: "choisissez-les"})),
        el("p", {class: "gallery-drop-help", text: "JPEG, PNG, WebP, GIF ou HEIC (iPhone), 15 Mo au plus chacune ; "
                                                    + "plusieurs à la fois."}),
        this.library ? button("Choisir dans la photothèque", "gallery-open-library", () => this.library.open()) : null);
      for (const type of ["dragenter", "dragover"]) {
        this.zone.addEventListener(type, (event) => {
          if (!this.carriesFiles(event)) return;
          event.preventDefault();
          this.zone.classList.add("is-over");
        });
      }
      this.zone.addEventListener("dragleave", () => this.zone.classList.remove("is-over"));
      this.zone.addEventListener("drop", (event) => {
        if (!this.carriesFiles(event)) return;
        event.preventDefault();
        this.zone.classList.remove("is-over");
        this.addFiles(event.dataTransfer.files);
      });
      this.count = el("p", {class: "gallery-count", role: "status", "aria-live": "polite"});
      this.announcer = el("p", {class: "visually-hidden", "aria-live": "assertive"});
      this.list = el("ol", {class: "gallery-cards", "aria-label": "Photos de l'article, dans l'ordre de la page"});
      this.help = el("p", {class: "help gallery-help", text: "Glissez une photo par ⠿, ou montez-la / descendez-la "
        + "(↑ ↓, ou Alt+↑ / Alt+↓ sur la photo), pour changer l'ordre ; cliquez sur la photo pour choisir son point "
        + "d'intérêt (les recadrages le gardent). Sans couverture choisie, la première photo l'est."});
      this.list.addEventListener("keydown", (event) => {
        const card = event.target.closest && event.target.closest("[data-card]");
        if (!card || !event.altKey || !["ArrowUp", "ArrowDown"].includes(event.key)) return;
        event.preventDefault();
        this.move(card.card, event.key === "ArrowUp" ? -1 : 1);
      });
      this.dragging();
      this.table.before(el("div", {class: "gallery"}, this.zone, this.count, this.help, this.list, this.announcer));
    }

    carriesFiles(event) {
      return event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    }

    /* HTML5 drag and drop of the cards by their handle; the order is kept at the drop. */
    dragging() {
      let dragged = null;
      this.list.addEventListener("dragstart", (event) => {
        const head = event.target.closest && event.target.closest(".gallery-card-head");
        const node = head && head.closest("[data-card]");
        if (!node || !node.card.inputs) return;
        dragged = node;
        node.classList.add("is-dragged");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", node.card.name);
        event.dataTransfer.setDragImage(node, 20, 20);
      });
      this.list.addEventListener("dragover", (event) => {
        if (!dragged) return;
        event.preventDefault();
        const over = event.target.closest && event.target.closest("[data-card]");
        if (!over || over === dragged) return;
        const box = over.getBoundingClientRect();
        const after = event.clientX > box.left + box.width / 2;
        over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
      });
      this.list.addEventListener("drop", (event) => {
        if (dragged) event.preventDefault();
      });
      this.list.addEventListener("dragend", () => {
        if (!dragged) return;
        dragged.classList.remove("is-dragged");
        const card = dragged.card;
        dragged = null;
        this.renumber();
        this.announcePlace(card);
      });
    }

    existingName(row) {
      const link = row.querySelector(".field-photo strong a");
      return link ? link.textContent.trim() : `Photo n° ${row.querySelector("[name$='-photo']").value}`;
    }

    existingPhoto(row) {
      const image = row.querySelector(".field-preview img");
      const waiting = row.querySelector(".field-preview .photo-waiting");
      return {thumbnail_url: image && !(waiting && waiting.textContent.trim()) ? image.src : "",
              state: waiting && waiting.textContent.trim() ? "pending" : "uploaded",
              message: waiting ? waiting.textContent.trim().replace(/^⏳\s*/, "") : ""};
    }

    field(name) {
      const input = this.form.querySelector(`[name="${name}"]`);
      return input ? input.value : "";
    }

    csrfToken() {
      const input = this.form.querySelector("[name=csrfmiddlewaretoken]");
      if (input) return input.value;
      const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
      return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
    }

    cards() {
      return [...this.list.children].map((node) => node.card).filter(Boolean);
    }

    cardFor(photoId) {
      return this.cards().find((card) => card.active && card.photoId === String(photoId));
    }

    addFiles(files) {
      for (const file of files) {
        const card = new Card(this, file.name);
        this.list.append(card.node);
        this.uploads.add(file, card);
      }
    }

    /* A new row from Django's empty form, its inputs in ``card``, filled from the photo's JSON. */
    newRow(card, photo) {
      const index = Number(this.total.value);
      const row = this.template.cloneNode(true);
      row.removeAttribute("id");
      row.classList.remove("empty-form");
      for (const node of row.querySelectorAll("[name], [id], [for]")) {
        for (const attribute of ["name", "id", "for"]) {
          if (node.hasAttribute(attribute)) {
            node.setAttribute(attribute, node.getAttribute(attribute).replace("__prefix__", String(index)));
          }
        }
      }
      this.total.value = String(index + 1);
      card.attachRow(row, photo);
      card.fill(photo);
      this.renumber();
    }

    uploaded(card, photo) {
      const already = this.cardFor(photo.id);
      if (already) {
        card.showStatus(el("p", {class: "gallery-note"}, `Cette photo est déjà dans la galerie (« ${already.name} »).`),
                        button("Fermer", "gallery-dismiss", () => card.node.remove()));
        return;
      }
      this.newRow(card, photo);
    }

    placed(photo) {
      if (this.cardFor(photo.id)) return;
      const card = new Card(this, photo.caption || photo.label);
      this.list.append(card.node);
      this.newRow(card, photo);
      this.announce(`« ${card.name} » ajoutée en position ${this.activeCards().indexOf(card) + 1}.`);
    }

    activeCards() {
      return this.cards().filter((card) => card.active);
    }

    /* Positions 0..n-1 in the order of the cards. */
    renumber() {
      this.activeCards().forEach((card, index) => { card.inputs.position.value = String(index); });
      for (const card of this.cards()) if (card.inputs) card.showCover();
    }

    move(card, step) {
      const nodes = [...this.list.children];
      const at = nodes.indexOf(card.node);
      const to = at + step;
      if (to < 0 || to >= nodes.length) {
        this.announce(step < 0 ? `« ${card.name} » est déjà la première.` : `« ${card.name} » est déjà la dernière.`);
        return;
      }
      const focused = document.activeElement;
      if (step < 0) this.list.insertBefore(card.node, nodes[to]);
      else this.list.insertBefore(card.node, nodes[to].nextSibling);
      if (focused && card.node.contains(focused)) focused.focus();
      this.renumber();
      this.announcePlace(card);
    }

    announcePlace(card) {
      const active = this.activeCards();
      const place = active.indexOf(card);
      if (place >= 0) this.announce(`« ${card.name} » : position ${place + 1} sur ${active.length}.`);
    }

    coverChanged(chosen) {
      if (chosen.inputs.is_cover.checked) {
        for (const card of this.cards()) if (card !== chosen && card.inputs) card.inputs.is_cover.checked = false;
        this.announce(`« ${chosen.name} » est la photo de couverture.`);
      }
      this.renumber();
    }

    /* A saved row is deleted at the save (its DELETE box); a new one is simply emptied. */
    remove(card) {
      const {inputs} = card;
      inputs.is_cover.checked = false;
      if (inputs.DELETE && inputs.id.value) {
        inputs.DELETE.checked = true;
        this.showRemoved(card, true);
        card.restore.focus();
        this.announce(`« ${card.name} » sera retirée de l'article à l'enregistrement.`);
      } else {
        for (const [name, input] of Object.entries(inputs)) {
          const model = input && this.template.querySelector(`[name$="-${name}"]`);
          if (!model || name === "article") continue;
          if (input.type === "checkbox") input.checked = model.defaultChecked;
          else input.value = model.defaultValue;
        }
        card.node.classList.add("is-cleared");
        card.node.hidden = true;
        this.announce(`« ${card.name} » retirée.`);
      }
      this.renumber();
    }

    showRemoved(card, removed) {
      card.node.classList.toggle("is-removed", removed);
      card.fields.inert = removed;
      card.restore.hidden = !removed;
    }

    restore(card) {
      card.inputs.DELETE.checked = false;
      this.showRemoved(card, false);
      card.node.focus();
      this.renumber();
      this.announce(`« ${card.name} » reste dans l'article.`);
    }

    showCount() {
      this.count.textContent = this.uploads.summary();
    }

    announce(text) {
      this.announcer.textContent = text;
    }

    beforeSubmit(event) {
      if (!this.uploads.busy) return;
      event.preventDefault();
      this.count.textContent = `${this.uploads.summary()} — attendez la fin des envois pour enregistrer.`;
      this.count.classList.add("is-warning");
    }
  }

  function start() {
    const group = document.getElementById(`${PREFIX}-group`);
    if (!group || !script || !group.querySelector("table") || !document.getElementById(`${PREFIX}-empty`)) return;
    document.documentElement.classList.add("has-gallery");
    new Gallery(group, {upload: script.dataset.uploadUrl, search: script.dataset.searchUrl});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
