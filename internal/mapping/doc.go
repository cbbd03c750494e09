// Package mapping turns a decoded row into the Trustpilot email invitation its
// activation asks for. It is pure: no I/O, no clock, no shared state.
//
// Invariants:
//   - Precedence, field by field: a value set on the activation wins; else the
//     destination's default; else the mapped column of the row; else the field is
//     omitted and Trustpilot's account defaults apply. Fixed values (activation or
//     destination) apply to every row, trimmed, and a row column they override is not
//     read, so it cannot make the row invalid. An empty fixed list (tags: []) is not set. Template ids and redirect URIs have no column;
//     locale, location_id and the consumer fields come from the row only.
//   - Settings lists an activation's settings with where each value comes from
//     (activation, destination default, mapped column, omitted), from the same resolution
//     as Map: what it shows is what Map sends.
//   - Tags set on the activation (service.tags) or else the destination
//     (defaults.service_tags) replace the row's tags column; they are never merged.
//   - SKUs: the activation's product.skus, else (product.sku_per_row) the mapped
//     product_sku column. A string column is one SKU, commas included (SKUs are ids,
//     and nothing says a comma cannot be part of one); several SKUs come as an array.
//     Only productSkus is ever sent, never products.
//   - Only the invitation type's parts are built: serviceReviewInvitation for service,
//     productReviewInvitation for product, both for both; type is always "email".
//   - Row values: null, an absent column and an empty or all-blank string are "no
//     value"; strings are trimmed; numbers become their plain decimal text (row.Value's
//     Decimal); a boolean is never text; an array is accepted only for tags and SKUs,
//     each item trimmed and blank ones dropped. A tags string is split on commas.
//   - A row Trustpilot would certainly refuse is an *InvalidRowError (dead-letter class
//     "invalid_row") before any call: a required field (consumer_name, consumer_email,
//     reference_number, and a SKU for product invitations) without a value, an invalid
//     consumer_email (or sender_email, reply_to when they come from the row), a
//     reference number holding any of # * + " % &, or a locale that is not
//     language-REGION. The first problem is reported, in the order of the mapping's
//     fields: consumer_name, consumer_email, reference_number, reply_to, locale,
//     sender_name, sender_email, location_id, tags, product_sku.
//   - Locales are normalised: language of 2 or 3 ASCII letters, lowercased; region of 2
//     ASCII letters, uppercased; "-" or "_" between them (en_us, EN-us -> en-US). Anything
//     else (english, en, en-USA, es-419, zh-Hant-TW) is refused: Trustpilot's locales
//     are all language-REGION.
//   - Error messages name the mapping field and its column, mask email addresses
//     (logging.MaskEmail) and never repeat a row's other values.
//   - A Mapper is built from a validated activation file (activation.Load) and is
//     immutable: Map is safe for concurrent use, and every Invitation it returns owns
//     its slices.
package mapping
