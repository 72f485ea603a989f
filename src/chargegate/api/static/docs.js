// Swagger UI for /1.2/docs. In a file of its own rather than inline: the page's
// Content-Security-Policy runs scripts from this server only.
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  domNode: root,
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // The default sends the document to an online validator and shows its badge from there.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
