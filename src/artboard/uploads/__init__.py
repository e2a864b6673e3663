"""Seed 004 direct uploads: presigned URLs, confirmation, download URLs, and the URLs local storage signs."""
