-- A draw's entries in the order they were bought (making the draw, its proof): read by
-- the draw, not by walking every entry of the shop.
CREATE INDEX draw_entries_order ON draw_entries (tenant_id, draw_id, id);
-- Merging two members moves the other profile's entries: found by member.
CREATE INDEX draw_entries_member ON draw_entries (tenant_id, member_id);
-- Members with a tag, newest first (staff search by tag): the tag's members in id order.
DROP INDEX member_tags_tag;
CREATE INDEX member_tags_tag ON member_tags (tenant_id, tag, member_id);
