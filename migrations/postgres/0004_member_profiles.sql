-- Member profiles: personal details, LINE identity, tags and custom attributes.
ALTER TABLE members ADD COLUMN gender TEXT NOT NULL DEFAULT 'unspecified';
ALTER TABLE members ADD COLUMN birthday TEXT;
ALTER TABLE members ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN line_user_id TEXT;
ALTER TABLE members ADD COLUMN line_display_name TEXT;
ALTER TABLE members ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
CREATE INDEX members_birthday ON members (tenant_id, birthday);
CREATE INDEX members_email ON members (tenant_id, email);

CREATE TABLE member_tags (
    tenant_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, member_id, tag)
);
CREATE INDEX member_tags_tag ON member_tags (tenant_id, tag);
