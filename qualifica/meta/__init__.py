"""Everything about Meta: the Graph client and its errors, webhook signatures, the offline sandbox."""
