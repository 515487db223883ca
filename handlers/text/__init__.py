"""Text people read: translations from the gettext catalogs, and numbers, money and dates in their locale."""
