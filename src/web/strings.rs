//! The pages' words in Thai and English. Keys are English identifiers.

use crate::tenants::model::Language;

/// The text for `key` in `lang`. Every key a page uses is in [`STRINGS`] in both
/// languages (a test reads the pages' sources for them); one that is not renders as the
/// key itself, for the test to find.
pub fn t(lang: Language, key: &'static str) -> &'static str {
    static INDEX: std::sync::LazyLock<std::collections::HashMap<&str, (&str, &str)>> =
        std::sync::LazyLock::new(|| STRINGS.iter().map(|&(k, th, en)| (k, (th, en))).collect());
    let (th, en) = INDEX.get(key).copied().unwrap_or((key, key));
    match lang {
        Language::Th => th,
        Language::En => en,
    }
}

/// Every string of the pages: (key, Thai, English).
pub const STRINGS: &[(&str, &str, &str)] = &[
    ("sign_in", "เข้าสู่ระบบ", "Sign in"),
    ("role_owner", "เจ้าของร้าน", "Owner"),
    ("role_admin", "ผู้ดูแลระบบ", "Administrator"),
    ("role_manager", "ผู้จัดการ", "Manager"),
    ("role_cashier", "แคชเชียร์", "Cashier"),
    ("role_fulfilment", "ฝ่ายจัดส่ง", "Fulfilment"),
    ("role_analyst", "นักวิเคราะห์", "Analyst"),
    ("baht", "บาท", "THB"),
    ("o_this_month", "เดือนนี้", "This month"),
    ("o_counted_at", "ข้อมูล ณ", "Counted at"),
    ("o_members", "สมาชิก", "Members"),
    ("o_new_this_month", "คนใหม่เดือนนี้", "new this month"),
    ("o_active", "สมาชิกที่เคลื่อนไหว", "Active members"),
    (
        "o_active_note",
        "ซื้อหรือแลกใน 30 วัน",
        "bought or redeemed in 30 days",
    ),
    ("o_issued", "คะแนนที่ให้", "Points issued"),
    ("o_redeemed", "คะแนนที่แลก", "Points redeemed"),
    ("o_expired", "คะแนนที่หมดอายุ", "Points expired"),
    ("o_liability", "คะแนนคงค้าง", "Points outstanding"),
    (
        "o_set_point_value",
        "ตั้งมูลค่าต่อคะแนนเพื่อดูเป็นบาท",
        "set a point's value to see it in baht",
    ),
    ("o_redemptions", "การแลกของรางวัล", "Redemptions"),
    ("o_this_month_note", "ครั้งในเดือนนี้", "this month"),
    ("o_today", "วันนี้ที่เคาน์เตอร์", "Today at the counter"),
    (
        "o_no_purchases_today",
        "วันนี้ยังไม่มีการซื้อ",
        "No purchases yet today.",
    ),
    ("o_open_counter", "เปิดหน้าเคาน์เตอร์", "Open the counter"),
    ("o_purchases", "จำนวนบิล", "Purchases"),
    ("o_sales", "ยอดขาย (บาท)", "Sales (THB)"),
    ("o_no_branch", "ไม่ระบุสาขา", "No branch named"),
    ("o_total", "รวม", "Total"),
    ("o_sections", "เมนูร้าน", "The shop"),
    ("o_points_page", "คะแนนและภาระคงค้าง", "Points and liability"),
    ("a_api_keys", "คีย์ API", "API keys"),
    ("tm_title", "ทีมงาน", "Staff"),
    ("tm_all_branches", "ทุกสาขา", "All branches"),
    ("tm_branches", "สาขาที่ทำงาน", "Works at"),
    (
        "tm_branches_note",
        "ไม่เลือก = ทุกสาขา",
        "None ticked = all branches",
    ),
    ("tm_invite", "เชิญทีมงาน", "Invite someone"),
    ("tm_make_link", "สร้างลิงก์เชิญ", "Make an invitation link"),
    ("tm_pending", "คำเชิญที่รอตอบรับ", "Invitations waiting"),
    (
        "tm_no_pending",
        "ไม่มีคำเชิญที่รออยู่",
        "No invitation is waiting.",
    ),
    ("tm_expires", "หมดอายุ", "Expires"),
    ("tm_actions", "ทำรายการ", "Actions"),
    ("tm_new_link", "สร้างลิงก์ใหม่", "New link"),
    ("tm_revoke", "ยกเลิกคำเชิญ", "Revoke"),
    ("tm_revoked", "ยกเลิกคำเชิญแล้ว", "Invitation revoked."),
    ("tm_inactive", "ปิดการใช้งาน", "Deactivated"),
    ("tm_link_ready", "ลิงก์เชิญสำหรับ", "Invitation link for"),
    (
        "tm_link_once",
        "ลิงก์นี้แสดงครั้งเดียว ส่งให้ผู้รับเชิญตอนนี้ทางไลน์ หรือให้สแกน QR",
        "This link is shown once: send it now by LINE, or let them scan the QR code.",
    ),
    ("tm_qr", "QR ของลิงก์เชิญ", "QR code of the invitation link"),
    ("tm_share_line", "ส่งทางไลน์", "Share in LINE"),
    (
        "tm_share_text",
        "คุณได้รับเชิญเข้าร่วมทีมงาน เปิดลิงก์นี้เพื่อตั้งรหัสผ่าน:",
        "You are invited to join the staff. Open this link to set your password:",
    ),
    (
        "tm_active_note",
        "ใช้งานได้ (เอาออกเพื่อปิดการใช้งาน ออกจากระบบทันที)",
        "Active (untick to deactivate; signs them out at once)",
    ),
    ("tm_back", "กลับไปหน้าทีมงาน", "Back to the staff"),
    ("tm_address", "ที่อยู่", "Address"),
    ("tm_open", "เปิด", "Open"),
    ("tm_closed", "ปิดแล้ว", "Closed"),
    ("tm_close", "ปิดสาขา", "Close"),
    ("tm_reopen", "เปิดอีกครั้ง", "Reopen"),
    ("tm_add_branch", "เพิ่มสาขา", "Add a branch"),
    ("tm_branch_added", "เพิ่มสาขาแล้ว", "Branch added."),
    ("ls_title", "กติกาคะแนน", "Points rules"),
    ("ls_earning", "การสะสมคะแนน", "Earning"),
    ("ls_earn_baht", "ทุก ๆ (บาท)", "Every (THB)"),
    ("ls_earn_points", "ได้คะแนน", "earns (points)"),
    ("ls_rounding", "เศษของคะแนน", "Fractions of a point"),
    ("ls_floor", "ปัดทิ้ง (ปกติ)", "Round down (the usual)"),
    ("ls_nearest", "ปัดเศษครึ่งขึ้น", "Round to the nearest"),
    ("ls_ceil", "ปัดขึ้น", "Round up"),
    (
        "ls_min_spend",
        "ยอดซื้อขั้นต่ำที่ได้คะแนน (บาท)",
        "Least a bill must be to earn (THB)",
    ),
    ("ls_sample", "ตัวอย่าง: บิล", "For example, a bill of"),
    ("ls_expiry", "วันหมดอายุของคะแนน", "When points expire"),
    ("ls_expiry_mode", "คะแนนหมดอายุ", "Points expire"),
    ("ls_never", "ไม่หมดอายุ", "Never"),
    (
        "ls_rolling",
        "หลังได้รับ ตามจำนวนเดือน",
        "Some months after they are earned",
    ),
    (
        "ls_months",
        "จำนวนเดือน (0 = สิ้นงวดนี้)",
        "Months (0 = at the end of this period)",
    ),
    ("ls_round_up", "นับถึง", "Counted to"),
    (
        "ls_to_the_day",
        "วันเดียวกันของเดือน",
        "The same day of the month",
    ),
    ("ls_month_end", "สิ้นเดือน", "The end of the month"),
    ("ls_quarter_end", "สิ้นไตรมาส", "The end of the quarter"),
    ("ls_year_end", "สิ้นปี", "The end of the year"),
    (
        "ls_expiry_note",
        "นับตามเวลาของร้าน คะแนนที่ได้ไปแล้วใช้วันหมดอายุเดิม",
        "Counted in the shop's time zone; points already earned keep their date.",
    ),
    ("ls_refunds", "การคืนสินค้า", "Refunds"),
    (
        "ls_pending_days",
        "คะแนนจากการซื้อใช้ได้หลังกี่วัน (0 = ทันที)",
        "Days before points from a purchase can be spent (0 = at once)",
    ),
    (
        "ls_refund_policy",
        "เมื่อคืนสินค้าแต่คะแนนถูกใช้ไปแล้ว",
        "When a refund takes back points already spent",
    ),
    (
        "ls_allow_negative",
        "หักให้ครบ ยอดติดลบได้ หักจากคะแนนครั้งต่อไป",
        "Take it all; the balance may go below zero and later points repay it",
    ),
    (
        "ls_within_balance",
        "หักเท่าที่มี ส่วนที่เหลือตัดทิ้ง",
        "Take only what is left; write off the rest",
    ),
    ("ls_value", "มูลค่าคะแนน", "A point's value"),
    (
        "ls_point_value",
        "1 คะแนนมีมูลค่า (บาท)",
        "One point is worth (THB)",
    ),
    (
        "ls_value_note",
        "ใช้คำนวณคะแนนคงค้างเป็นบาทในรายงาน (0 = ไม่ระบุ)",
        "Used to state the points outstanding in baht (0 = not set).",
    ),
    ("ls_save", "บันทึก", "Save"),
    (
        "ls_bad_baht",
        "กรุณาใส่จำนวนเงิน เช่น 25 หรือ 25.50",
        "Type an amount, e.g. 25 or 25.50",
    ),
    ("ls_bad_number", "กรุณาใส่จำนวนเต็ม", "Type a whole number"),
    ("mm_none_found", "ไม่พบสมาชิกที่ค้นหา", "No member matches."),
    ("mm_name", "ชื่อ", "Name"),
    ("mm_profile", "ข้อมูลสมาชิก", "Profile"),
    ("mm_birthday", "วันเกิด", "Birthday"),
    ("mm_gender", "เพศ", "Gender"),
    ("mm_national_id", "เลขบัตรประชาชน", "National ID"),
    ("mm_available", "ใช้ได้ตอนนี้", "Spendable now"),
    ("mm_pending", "รอใช้ได้", "Pending"),
    ("mm_debt", "ค้างคืน", "Owed back"),
    ("mm_next_expiry", "หมดอายุถัดไป", "Next to expire"),
    (
        "mm_no_history",
        "ยังไม่มีรายการคะแนน",
        "No points have moved yet.",
    ),
    ("mm_when", "เมื่อ", "When"),
    ("mm_what", "รายการ", "What"),
    ("mm_bill", "ยอดบิล (บาท)", "Bill (THB)"),
    ("mm_receipt", "เลขที่ใบเสร็จ", "Receipt"),
    ("mm_reason", "เหตุผล", "Reason"),
    ("mm_redemptions", "ของรางวัลที่แลก", "Rewards redeemed"),
    (
        "mm_no_redemptions",
        "ยังไม่เคยแลกของรางวัล",
        "No rewards redeemed yet.",
    ),
    ("mm_reward", "ของรางวัล", "Reward"),
    ("mm_code", "รหัส", "Code"),
    (
        "mm_no_consents",
        "ยังไม่มีการบันทึกความยินยอม",
        "No consent recorded.",
    ),
    ("mm_purpose", "เรื่อง", "For"),
    ("mm_given", "ยินยอม", "Given"),
    ("mm_version", "ฉบับที่", "version"),
    ("mm_yes", "ยินยอม", "Yes"),
    ("mm_no", "ไม่ยินยอม", "No"),
    ("mm_adjust", "ปรับคะแนน", "Adjust points"),
    (
        "mm_adjust_points",
        "คะแนน (ติดลบเพื่อหัก เช่น -20)",
        "Points (negative to deduct, e.g. -20)",
    ),
    ("mm_next", "ถัดไป", "Next"),
    ("mm_access", "การใช้งานบัตร", "Card use"),
    ("mm_block", "ระงับบัตร", "Block the card"),
    ("mm_unblock", "เปิดใช้บัตรอีกครั้ง", "Unblock the card"),
    (
        "mm_block_explained",
        "สมาชิกที่ถูกระงับจะแลกของรางวัลไม่ได้และไม่ได้รับโบนัสอัตโนมัติ จนกว่าจะเปิดใช้อีกครั้ง คะแนนยังอยู่ครบ",
        "A blocked member cannot redeem rewards and gets no automatic bonuses until unblocked; their points stay.",
    ),
    (
        "mm_unblock_explained",
        "สมาชิกจะแลกของรางวัลและรับโบนัสได้ตามปกติ",
        "The member can redeem rewards and receive bonuses again.",
    ),
    ("mm_privacy", "ข้อมูลส่วนบุคคล (PDPA)", "Personal data (PDPA)"),
    (
        "mm_export",
        "ดาวน์โหลดข้อมูลทั้งหมดของสมาชิก",
        "Download everything held on the member",
    ),
    ("mm_erase", "ลบข้อมูลส่วนบุคคล", "Erase personal data"),
    (
        "mm_erase_removed",
        "จะลบ: ชื่อ เบอร์โทร อีเมล วันเกิด ที่อยู่ เลขบัตรประชาชน แท็ก ข้อมูลเพิ่มเติม การเชื่อมไลน์ ที่อยู่จัดส่ง และเหตุผลที่เขียนไว้ในประวัติ ย้อนกลับไม่ได้",
        "Removed for good: name, phone, email, birthday, address, national ID, tags, attributes, the LINE link, shipping addresses and the reasons written in their history.",
    ),
    (
        "mm_erase_kept",
        "เก็บไว้: ยอดคะแนนและวันที่ของแต่ละรายการ (ไม่มีชื่อ) เพื่อให้ยอดรวมและรายงานยังถูกต้อง",
        "Kept: the amounts and dates of their points, without a name, so totals and reports stay right.",
    ),
    ("mm_confirm_title", "ยืนยันก่อนทำรายการ", "Please confirm"),
    ("mm_confirm", "ยืนยัน", "Confirm"),
    ("mm_cancel", "ยกเลิก", "Cancel"),
    (
        "mm_whole_points",
        "กรุณาใส่จำนวนเต็ม เช่น 50 หรือ -20",
        "Type a whole number, e.g. 50 or -20",
    ),
    ("mm_adjusted", "ปรับคะแนนแล้ว", "Points adjusted."),
    ("mm_saved", "บันทึกแล้ว", "Saved."),
    ("mm_erased", "ลบข้อมูลส่วนบุคคลแล้ว", "Personal data erased."),
    ("k_adjust_credit", "เพิ่มโดยพนักงาน", "Added by staff"),
    ("k_adjust_debit", "หักโดยพนักงาน", "Deducted by staff"),
    ("rs_issued", "พร้อมใช้", "Ready to use"),
    ("rs_used", "ใช้แล้ว", "Used"),
    ("rs_expired", "หมดอายุ", "Expired"),
    ("rs_cancelled", "ยกเลิกแล้ว", "Cancelled"),
    ("rs_pending", "รอจัดส่ง", "Waiting to be packed"),
    ("rs_packed", "แพ็กแล้ว", "Packed"),
    ("rs_shipped", "ส่งแล้ว", "Shipped"),
    ("rs_delivered", "ได้รับแล้ว", "Delivered"),
    ("cp_terms", "ข้อกำหนดการใช้งาน", "Terms of use"),
    ("cp_privacy", "ประกาศความเป็นส่วนตัว", "Privacy notice"),
    ("cp_marketing_line", "รับข่าวสารทางไลน์", "News by LINE"),
    ("cp_marketing_sms", "รับข่าวสารทาง SMS", "News by SMS"),
    ("cp_marketing_email", "รับข่าวสารทางอีเมล", "News by email"),
    ("ms_active", "ใช้งาน", "Active"),
    ("ms_blocked", "ระงับ", "Blocked"),
    ("ms_merged", "รวมกับสมาชิกอื่นแล้ว", "Merged into another"),
    ("ms_erased", "ลบข้อมูลแล้ว", "Erased"),
    ("g_female", "หญิง", "Female"),
    ("g_male", "ชาย", "Male"),
    ("g_other", "อื่น ๆ", "Other"),
    ("g_unspecified", "ไม่ระบุ", "Not given"),
    (
        "o_points_explained",
        "คะแนนแต่ละเดือนตามเวลาของร้าน: ยอดยกมา + ให้ − แลก − หมดอายุ = คงค้าง",
        "Each month in the shop's time zone: opening + issued − redeemed − expired = outstanding.",
    ),
    ("o_download_csv", "ดาวน์โหลด CSV", "Download CSV"),
    ("o_month", "เดือน", "Month"),
    ("o_opening", "ยกมา", "Opening"),
    ("o_liability_baht", "คงค้าง (บาท)", "Outstanding (THB)"),
    ("a_mailbox", "กล่อง SMS ทดสอบ", "SMS mailbox"),
    ("sign_out", "ออกจากระบบ", "Sign out"),
    ("shop", "ร้าน (ชื่อย่อในลิงก์)", "Shop (short name in links)"),
    ("email", "อีเมล", "Email"),
    ("password", "รหัสผ่าน", "Password"),
    ("your_name", "ชื่อของคุณ", "Your name"),
    (
        "wrong_login",
        "ร้าน อีเมล หรือรหัสผ่านไม่ถูกต้อง",
        "Wrong shop, email or password",
    ),
    (
        "too_many",
        "ลองหลายครั้งเกินไป กรุณารอสักครู่",
        "Too many attempts; please wait a moment",
    ),
    ("join_staff", "เข้าร่วมทีมงาน", "Join the staff"),
    ("join", "เข้าร่วม", "Join"),
    ("invited_as", "คุณได้รับเชิญในตำแหน่ง", "You are invited as"),
    (
        "invitation_unusable",
        "คำเชิญนี้หมดอายุ ถูกยกเลิก หรือถูกใช้แล้ว",
        "This invitation has expired, was revoked or was already used",
    ),
    ("welcome", "ยินดีต้อนรับ", "Welcome"),
    ("branches", "สาขา", "Branches"),
    ("staff", "ทีมงาน", "Staff"),
    ("role", "ตำแหน่ง", "Role"),
    ("api_docs", "เอกสาร API", "API reference"),
    ("menu", "เมนู", "Menu"),
    ("counter", "หน้าร้าน", "Counter"),
    ("coupons", "คูปอง", "Coupons"),
    ("fulfilment", "จัดส่ง", "Fulfilment"),
    ("admin", "ผู้ดูแล", "Admin"),
    ("phone", "เบอร์โทรศัพท์", "Phone number"),
    ("find", "ค้นหา", "Find"),
    (
        "bad_phone",
        "เบอร์โทรศัพท์ไม่ถูกต้อง",
        "This is not a valid phone number",
    ),
    (
        "no_member",
        "ไม่พบสมาชิกที่ใช้เบอร์นี้",
        "No member has this phone number",
    ),
    ("balance", "คะแนนคงเหลือ", "Points balance"),
    ("points", "คะแนน", "points"),
    ("tier", "ระดับ", "Tier"),
    ("bill_amount", "ยอดบิล (บาท)", "Bill amount (THB)"),
    (
        "bad_amount",
        "ใส่ยอดเงินเป็นบาท เช่น 249 หรือ 249.50",
        "Enter the amount in baht, e.g. 249 or 249.50",
    ),
    ("branch", "สาขา", "Branch"),
    ("receipt", "เลขที่ใบเสร็จ (ถ้ามี)", "Receipt number (optional)"),
    ("preview", "คำนวณคะแนน", "Calculate points"),
    ("this_bill_earns", "บิลนี้ได้", "This bill earns"),
    ("confirm", "ยืนยันให้คะแนน", "Confirm and grant"),
    ("granted", "ให้คะแนนแล้ว", "Points granted"),
    ("new_balance", "คะแนนคงเหลือใหม่", "New balance"),
    ("next_member", "ลูกค้าคนถัดไป", "Next customer"),
    (
        "not_allowed",
        "ตำแหน่งของคุณไม่มีสิทธิ์ใช้หน้านี้",
        "Your role does not allow this page",
    ),
    (
        "server_error",
        "ระบบขัดข้อง กรุณาลองใหม่อีกครั้ง",
        "Something went wrong; please try again",
    ),
    (
        "form_expired",
        "แบบฟอร์มหมดอายุ กรุณาลองใหม่",
        "The form expired; please try again",
    ),
    ("coupon_code", "รหัสคูปอง", "Coupon code"),
    ("check", "ตรวจสอบ", "Check"),
    ("no_coupon", "ไม่พบคูปองรหัสนี้", "No coupon has this code"),
    ("mark_used", "ใช้คูปอง", "Mark as used"),
    ("coupon_used_ok", "ใช้คูปองเรียบร้อย", "Coupon used"),
    ("member", "สมาชิก", "Member"),
    ("reward", "ของรางวัล", "Reward"),
    ("value", "มูลค่า", "Value"),
    ("expires", "หมดอายุ", "Expires"),
    ("status", "สถานะ", "Status"),
    ("pack", "แพ็กแล้ว", "Packed"),
    ("ship", "ส่งแล้ว", "Shipped"),
    ("deliver", "ส่งถึงแล้ว", "Delivered"),
    ("carrier", "ขนส่ง", "Carrier"),
    ("tracking", "เลขพัสดุ", "Tracking number"),
    (
        "nothing_to_ship",
        "ไม่มีรายการรอจัดส่ง",
        "Nothing waiting to be shipped",
    ),
    ("address", "ที่อยู่", "Address"),
    ("st_issued", "ใช้ได้", "valid"),
    ("st_used", "ใช้แล้ว", "already used"),
    ("st_expired", "หมดอายุ", "expired"),
    ("st_cancelled", "ยกเลิกแล้ว", "cancelled"),
    ("st_pending", "รอแพ็ก", "waiting to be packed"),
    ("st_packed", "แพ็กแล้ว", "packed"),
    ("st_shipped", "ส่งแล้ว", "shipped"),
    ("st_delivered", "ส่งถึงแล้ว", "delivered"),
    (
        "used_on",
        "คูปองนี้ใช้ไปแล้วเมื่อ",
        "This coupon was already used on",
    ),
    (
        "coupon_expired",
        "คูปองนี้หมดอายุหรือถูกยกเลิกแล้ว",
        "This coupon has expired or was cancelled",
    ),
    ("m_home", "คะแนนของฉัน", "My points"),
    ("m_rewards", "ของรางวัล", "Rewards"),
    ("m_coupons", "คูปองของฉัน", "My coupons"),
    ("m_send_code", "ส่งรหัส OTP", "Text me a code"),
    (
        "m_code_sent",
        "ส่งรหัส 6 หลักไปที่",
        "We texted a 6-digit code to",
    ),
    ("m_code", "รหัส OTP", "Code"),
    ("m_wrong_code", "รหัสไม่ถูกต้อง", "Wrong code"),
    (
        "m_code_expired",
        "รหัสหมดอายุหรือใช้แล้ว กรุณาขอรหัสใหม่",
        "The code expired or was used; ask for a new one",
    ),
    (
        "m_expiring_30",
        "คะแนนจะหมดอายุใน 30 วัน",
        "points expire within 30 days",
    ),
    ("m_next_expiry", "คะแนนที่จะหมดอายุถัดไป", "Next to expire"),
    ("m_stamps", "แสตมป์", "Stamps"),
    ("m_to_next", "อีกเท่าไรถึงระดับ", "To reach"),
    (
        "m_to_keep",
        "ต้องสะสมอีกเพื่อรักษาระดับ",
        "Still needed to keep this tier",
    ),
    ("m_history", "ประวัติ", "History"),
    ("m_redeem", "แลกรางวัล", "Redeem"),
    ("m_no_coupons", "ยังไม่มีคูปอง", "No coupons yet"),
    ("k_earn", "ซื้อสินค้า", "Purchase"),
    ("k_bonus", "โบนัส", "Bonus"),
    ("k_redeem", "แลกคะแนน", "Redeemed"),
    ("k_redeem_cancel", "คืนคะแนน", "Refunded"),
    ("k_expire", "หมดอายุ", "Expired"),
    ("k_reversal", "คืนสินค้า", "Return"),
    ("k_adjust", "ปรับคะแนน", "Adjustment"),
    ("k_opening", "ยอดยกมา", "Opening balance"),
    ("k_other", "อื่น ๆ", "Other"),
    ("m_claim", "รับคะแนนจาก QR", "Collect points"),
    ("m_collect", "รับคะแนน", "Collect my points"),
    ("m_claim_unknown", "ไม่พบ QR นี้", "This QR code is not known"),
    (
        "m_claim_used",
        "QR นี้ถูกใช้แล้วหรือหมดอายุแล้ว",
        "This QR code was already used or has expired",
    ),
    (
        "claim_qr",
        "ลูกค้าไม่ได้ให้เบอร์? สร้าง QR ให้สแกนรับคะแนน",
        "No phone number? Make a QR the customer scans to collect the points",
    ),
    ("make_qr", "สร้าง QR", "Make QR"),
    (
        "scan_within",
        "ให้ลูกค้าสแกนภายใน 10 นาที ใช้ได้ครั้งเดียว",
        "The customer scans it within 10 minutes; it works once",
    ),
    ("s_sign_up", "สมัครสมาชิก", "Become a member"),
    ("s_first_name", "ชื่อ", "First name"),
    ("s_last_name", "นามสกุล", "Last name"),
    ("s_birthday", "วันเกิด (ไม่บังคับ)", "Birthday (optional)"),
    (
        "s_birthday_hint",
        "วว/ดด/ปปปป เช่น 31/12/2535",
        "DD/MM/YYYY, e.g. 31/12/1992",
    ),
    (
        "s_bad_birthday",
        "วันเกิดไม่ถูกต้อง ใช้ วว/ดด/ปปปป (พ.ศ. หรือ ค.ศ.)",
        "Not a valid date: use DD/MM/YYYY (Buddhist or Gregorian year)",
    ),
    ("s_terms", "ข้อกำหนดและเงื่อนไข", "Terms and conditions"),
    ("s_privacy", "ประกาศความเป็นส่วนตัว", "Privacy notice"),
    (
        "s_accept_terms",
        "ฉันยอมรับข้อกำหนดและเงื่อนไข",
        "I accept the terms and conditions",
    ),
    (
        "s_accept_privacy",
        "ฉันได้อ่านประกาศความเป็นส่วนตัวแล้ว",
        "I have read the privacy notice",
    ),
    (
        "s_marketing",
        "รับข่าวสารและโปรโมชันทาง (เลือกได้)",
        "Send me offers by (optional)",
    ),
    (
        "s_must_accept",
        "ต้องยอมรับก่อนสมัคร",
        "Needed to become a member",
    ),
    ("s_required", "กรุณากรอก", "Required"),
    (
        "s_welcome",
        "ยินดีต้อนรับ! สมัครสมาชิกเรียบร้อย",
        "Welcome! You are a member now",
    ),
    (
        "s_already_member",
        "เบอร์นี้เป็นสมาชิกอยู่แล้ว กรุณาเข้าสู่ระบบ",
        "This phone is already a member; sign in instead",
    ),
    (
        "s_text_changed",
        "ข้อความมีการเปลี่ยนแปลง กรุณาอ่านอีกครั้ง",
        "The text changed; please read it again",
    ),
    ("w_title", "ตั้งค่าร้านครั้งแรก", "Set up your shop"),
    ("w_shop", "ร้าน", "Shop"),
    ("w_branch", "สาขา", "Branch"),
    ("w_points", "คะแนนและวันหมดอายุ", "Points and expiry"),
    ("w_tiers", "ระดับสมาชิก", "Tiers"),
    ("w_reward", "ของรางวัลแรก", "First reward"),
    ("w_staff", "เชิญพนักงาน", "Invite staff"),
    ("w_shop_name", "ชื่อร้าน", "Shop name"),
    ("w_time_zone", "เขตเวลา", "Time zone"),
    ("w_language", "ภาษา", "Language"),
    (
        "w_branch_code",
        "รหัสสาขา (เช่น SIAM)",
        "Branch code (e.g. SIAM)",
    ),
    ("w_branch_name", "ชื่อสาขา", "Branch name"),
    (
        "w_baht_per_point",
        "ใช้จ่ายกี่บาทได้ 1 คะแนน",
        "Baht spent per point",
    ),
    (
        "w_expiry_months",
        "คะแนนหมดอายุหลังกี่เดือน (0 = ไม่หมดอายุ)",
        "Points expire after months (0 = never)",
    ),
    (
        "w_welcome_points",
        "คะแนนต้อนรับสมาชิกใหม่",
        "Welcome points for new members",
    ),
    (
        "w_tiers_on",
        "เปิดใช้ระดับสมาชิก 5 ระดับ (ตามคะแนนสะสมในปีปฏิทิน)",
        "Use 5 tiers (by points earned in the calendar year)",
    ),
    ("w_silver", "คะแนนสำหรับระดับซิลเวอร์", "Points for Silver"),
    ("w_gold", "คะแนนสำหรับระดับโกลด์", "Points for Gold"),
    ("w_platinum", "คะแนนสำหรับระดับแพลทินัม", "Points for Platinum"),
    ("w_diamond", "คะแนนสำหรับระดับไดมอนด์", "Points for Diamond"),
    (
        "w_reward_name",
        "ชื่อของรางวัล (คูปองใช้ที่ร้าน)",
        "Reward name (a coupon used in store)",
    ),
    ("w_points_cost", "ใช้กี่คะแนน", "Points it costs"),
    ("w_save", "บันทึกและไปต่อ", "Save and continue"),
    ("w_skip", "ข้ามขั้นนี้", "Skip this step"),
    ("w_done", "เสร็จสิ้น", "Finish"),
    ("w_saved", "บันทึกแล้ว", "Saved"),
    ("a_members", "สมาชิก", "Members"),
    ("a_search", "ชื่อหรืออีเมล", "Name or email"),
    ("a_tag", "แท็ก", "Tag"),
    ("a_more", "ถัดไป", "More"),
    ("a_import", "นำเข้าสมาชิก", "Import members"),
    ("a_template", "ดาวน์โหลดไฟล์ตัวอย่าง", "Download the template"),
    (
        "a_file",
        "เลือกไฟล์ CSV หรือ XLSX",
        "Choose a CSV or XLSX file",
    ),
    ("a_consents", "ความยินยอม", "Consents"),
    ("a_new_reward", "เพิ่มของรางวัล", "New reward"),
    ("a_draws", "จับรางวัล", "Lucky draws"),
    ("a_draw", "จับรางวัลเลย", "Make the draw"),
    ("a_audit", "บันทึกการใช้งาน", "Audit log"),
    ("a_revoke", "ยกเลิก", "Revoke"),
    ("a_new_key", "สร้าง API key", "New API key"),
    (
        "a_key_once",
        "คัดลอกเก็บไว้ แสดงครั้งเดียว",
        "Copy it now: it is shown once",
    ),
    ("a_rules", "กติกาการได้คะแนน", "Earning rules"),
    ("a_spend", "การยืนยันด้วย OTP", "One-time codes"),
    ("a_settings", "ตั้งค่ากติกา", "Rules and settings"),
    ("d_entry", "สิทธิ์", "entry"),
    ("d_mine", "สิทธิ์ของฉัน", "My entries"),
    ("d_proof", "ตรวจสอบผลได้", "verifiable proof"),
    ("d_how_many", "จำนวนสิทธิ์", "Entries"),
    ("d_enter", "ใช้คะแนนแลกสิทธิ์", "Buy entries with points"),
    ("d_none", "ยังไม่มีการจับรางวัล", "No lucky draws right now"),
    ("a_archive", "เก็บเข้าคลัง", "Archive"),
    ("t_json", "ระดับสมาชิก (JSON)", "Tiers (JSON)"),
    ("t_enabled", "เปิดใช้ระดับสมาชิก", "Tiers are on"),
    ("t_metric", "วัดจาก", "Qualify by"),
    (
        "t_points_earned",
        "คะแนนที่ได้จากการซื้อ",
        "Points earned from purchases",
    ),
    ("t_spend", "ยอดใช้จ่าย (สตางค์)", "Spend (satang)"),
    ("t_purchases", "จำนวนครั้งที่ซื้อ", "Number of purchases"),
    ("t_tenure", "จำนวนวันที่เป็นสมาชิก", "Days as a member"),
    ("t_window", "ช่วงเวลา", "Over"),
    ("t_year", "ปีปฏิทิน", "Calendar year"),
    ("t_quarter", "ไตรมาส", "Calendar quarter"),
    ("t_month", "เดือน", "Calendar month"),
    ("t_rolling", "ย้อนหลัง N เดือน", "The last N months"),
    ("t_lifetime", "ตลอดการเป็นสมาชิก", "Lifetime"),
    (
        "t_months",
        "N (เดือน, สำหรับย้อนหลัง)",
        "N (months, for the last N months)",
    ),
    ("t_downgrade", "การลดระดับเมื่อสิ้นรอบ", "At the end of a cycle"),
    (
        "t_to_qualified",
        "ลงไปยังระดับที่ทำได้",
        "Down to the level reached",
    ),
    ("t_one_step", "ลดลงทีละหนึ่งระดับ", "Down one level at a time"),
    ("t_never", "ไม่ลดระดับ", "Never down"),
    ("t_name", "ชื่อ", "Name"),
    ("t_threshold", "เกณฑ์", "Threshold"),
    (
        "t_benefits",
        "สิทธิประโยชน์ (คั่นด้วย ;)",
        "Benefits (separate with ;)",
    ),
    ("ad_recipient", "ชื่อผู้รับ", "Recipient"),
    ("ad_line1", "บ้านเลขที่ ถนน", "House number and street"),
    (
        "ad_line2",
        "อาคาร หมู่บ้าน (ถ้ามี)",
        "Building, village (optional)",
    ),
    ("ad_district", "ตำบล/อำเภอ", "Sub-district / district"),
    ("ad_province", "จังหวัด", "Province"),
    ("ad_postcode", "รหัสไปรษณีย์", "Postcode"),
    (
        "a_questions",
        "คำถามตอนสมัคร (JSON: id, label, required, options[value, label, tags])",
        "Signup questions (JSON: id, label, required, options[value, label, tags])",
    ),
    (
        "a_versions",
        "ข้อความที่เปลี่ยนจะเป็นเวอร์ชันใหม่ สมาชิกที่ยอมรับแล้วยังอ้างอิงเวอร์ชันเดิม",
        "A changed text becomes a new version; existing consents keep pointing at the version accepted",
    ),
];

#[cfg(test)]
mod tests {
    use super::STRINGS;

    fn has_thai(s: &str) -> bool {
        s.chars().any(|c| ('\u{0E00}'..='\u{0E7F}').contains(&c))
    }

    /// Every key the pages' code names (`t(lang, "key")`), read from the sources.
    fn keys_used() -> std::collections::BTreeSet<(String, String)> {
        let mut used = std::collections::BTreeSet::new();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("web/strings.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for key in literal_keys(&text) {
                        used.insert((key, path.display().to_string()));
                    }
                }
            }
        }
        used
    }

    /// The string literals passed as the key of `t(lang, "key")`.
    fn literal_keys(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("t(lang, \"") {
            let after = &rest[at..];
            // `t(` itself, not the end of another name (`layout(lang, "…")`).
            if rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                rest = &after[1..];
                continue;
            }
            let open = after.find('"').unwrap() + 1;
            let close = after[open..].find('"').unwrap();
            keys.push(after[open..open + close].to_string());
            rest = &after[open + close..];
        }
        keys
    }

    #[test]
    fn every_key_a_page_names_is_written_in_thai_and_in_english() {
        let known: std::collections::HashSet<&str> = STRINGS.iter().map(|s| s.0).collect();
        assert_eq!(known.len(), STRINGS.len(), "a key is written twice");
        let used = keys_used();
        assert!(
            used.len() > 100,
            "the pages' keys were found ({})",
            used.len()
        );
        let missing: Vec<_> = used
            .iter()
            .filter(|(k, _)| !known.contains(k.as_str()))
            .collect();
        assert!(missing.is_empty(), "keys with no words: {missing:?}");
        for (key, th, en) in STRINGS {
            assert!(
                !th.trim().is_empty() && !en.trim().is_empty(),
                "{key} is empty"
            );
            assert!(!has_thai(en), "{key}: Thai in the English words {en:?}");
        }
    }
}
