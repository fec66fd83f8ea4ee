/* A small XML tree parser for QVD headers: elements, text, entities; attributes, comments,
 * processing instructions and DOCTYPE are skipped. Enough for QvdTableHeader, and bounded
 * (depth, element count) so hostile input cannot exhaust the stack. */
#ifndef SL_QVD_XML_H
#define SL_QVD_XML_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_xml_node {
    char *name;
    char *text; /* concatenated character data of this element (entities decoded), never NULL */
    size_t textlen;
    struct sl_xml_node *first, *next, *parent;
} sl_xml_node;

/* Parses [p, p+len). Returns the root element or NULL with a one-line reason in err. */
sl_xml_node *sl_xml_parse(const char *p, size_t len, char *err, size_t errlen);
void sl_xml_free(sl_xml_node *n);
/* First child element named name, or NULL. */
sl_xml_node *sl_xml_child(const sl_xml_node *n, const char *name);
/* Text of the first child named name, or NULL when there is no such child. */
const char *sl_xml_child_text(const sl_xml_node *n, const char *name);

/* One character of UTF-8 text [s, s+n) (n > 0) as an XML 1.0 document may hold it: returns the
 * bytes consumed and sets *cp to the code point, or to U+FFFD for a byte that is not valid UTF-8
 * or a character XML 1.0 forbids (C0 controls other than TAB, LF, CR; U+FFFE, U+FFFF). */
size_t sl_xml_char(const unsigned char *s, size_t n, uint32_t *cp);

#endif
