//! The pages' words in Thai and English. Keys are English identifiers.

use crate::tenants::model::Language;

/// The text for `key` in `lang` (the key itself if it has no translation).
pub fn t(lang: Language, key: &'static str) -> &'static str {
    let (th, en) = match key {
        "sign_in" => ("เข้าสู่ระบบ", "Sign in"),
        "sign_out" => ("ออกจากระบบ", "Sign out"),
        "shop" => ("ร้าน (ชื่อย่อในลิงก์)", "Shop (short name in links)"),
        "email" => ("อีเมล", "Email"),
        "password" => ("รหัสผ่าน", "Password"),
        "your_name" => ("ชื่อของคุณ", "Your name"),
        "wrong_login" => ("ร้าน อีเมล หรือรหัสผ่านไม่ถูกต้อง", "Wrong shop, email or password"),
        "too_many" => (
            "ลองหลายครั้งเกินไป กรุณารอสักครู่",
            "Too many attempts; please wait a moment",
        ),
        "join_staff" => ("เข้าร่วมทีมงาน", "Join the staff"),
        "join" => ("เข้าร่วม", "Join"),
        "invited_as" => ("คุณได้รับเชิญในตำแหน่ง", "You are invited as"),
        "invitation_unusable" => (
            "คำเชิญนี้หมดอายุ ถูกยกเลิก หรือถูกใช้แล้ว",
            "This invitation has expired, was revoked or was already used",
        ),
        "welcome" => ("ยินดีต้อนรับ", "Welcome"),
        "branches" => ("สาขา", "Branches"),
        "staff" => ("ทีมงาน", "Staff"),
        "role" => ("ตำแหน่ง", "Role"),
        "api_docs" => ("เอกสาร API", "API reference"),
        _ => (key, key),
    };
    match lang {
        Language::Th => th,
        Language::En => en,
    }
}
