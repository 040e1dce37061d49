-- The caller's number as the operator's workspace shows it (issue 14, item 8): masked, like a
-- customer card's phone in part ("***-****-5678"). The number itself is still kept only as
-- its blind-index digest; calls reported before this column have none.
ALTER TABLE calls ADD COLUMN caller_masked TEXT;
