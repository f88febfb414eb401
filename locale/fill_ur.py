# ruff: noqa: E501  (the translation table keeps each sentence on one line)
"""Fill locale/ur/LC_MESSAGES/django.po from the table below (run after makemessages).

    python locale/fill_ur.py && msgfmt --check -o locale/ur/LC_MESSAGES/django.mo \
        locale/ur/LC_MESSAGES/django.po

Keys are the English text (or its unambiguous beginning, for long sentences).
Placeholders (%(name)s) are kept as they are. Untranslated strings fall back to English.
"""

import re
from pathlib import Path

UR = {
    "The allowed maximum": "اجازت شدہ زیادہ سے زیادہ",
    "This amount:": "یہ رقم:",
    "Reference": "حوالہ",
    "Value date": "ویلیو تاریخ",
    "Currency": "کرنسی",
    "Amount received": "موصول رقم",
    "Retain in the ESFCA": "ای ایس ایف سی اے میں رکھیں",
    "Amount to retain": "رکھی جانے والی رقم",
    "Bank's conversion rate (PKR per unit)": "بینک کا تبادلہ ریٹ (فی یونٹ روپے)",
    "Leave empty to use the buying rate of the value date.": "ویلیو تاریخ کا خرید ریٹ استعمال کرنے کے لیے خالی چھوڑیں۔",
    "Client": "کلائنٹ",
    "Client country (ISO code)": "کلائنٹ کا ملک (آئی ایس او کوڈ)",
    "Purpose code": "مقصد کوڈ",
    "— none —": "— کوئی نہیں —",
    "From the ESFCA in": "اس کرنسی کے ای ایس ایف سی اے سے",
    "Purpose": "مقصد",
    "Amount": "رقم",
    "Payee": "وصول کنندہ",
    "Payee country (ISO code)": "وصول کنندہ کا ملک (آئی ایس او کوڈ)",
    "Investee company": "سرمایہ کاری والی کمپنی",
    "Investee country (ISO code)": "سرمایہ کاری کا ملک (آئی ایس او کوڈ)",
    "SBP approval reference": "اسٹیٹ بینک منظوری حوالہ",
    "Amount to convert": "تبدیل کی جانے والی رقم",
    "Bank's rate (PKR per unit)": "بینک کا ریٹ (فی یونٹ روپے)",
    "From": "سے",
    "To": "کو",
    "Amount (in the source currency)": "رقم (اصل کرنسی میں)",
    "CSV or XLSX file": "سی ایس وی یا ایکس ایل ایس ایکس فائل",
    "Accept": "منظور کریں",
    "Return to the firm": "فرم کو واپس کریں",
    "Decision": "فیصلہ",
    "Comment": "تبصرہ",
    "Month (YYYY-MM)": "مہینہ (YYYY-MM)",
    "Client country": "کلائنٹ کا ملک",
    "Payee country": "وصول کنندہ کا ملک",
    "Only a checked file can be imported.": "صرف جانچی ہوئی فائل درآمد کی جا سکتی ہے۔",
    "This reference was already recorded; nothing changed.": "یہ حوالہ پہلے سے درج ہے؛ کچھ تبدیل نہیں ہوا۔",
    "Receipt %(ref)s recorded": "وصولی %(ref)s درج ہو گئی: %(ret)s %(cur)s رکھے گئے، %(pkr)s روپے جمع ہوئے۔",
    "Allocation %(ref)s recorded": "ادائیگی %(ref)s درج ہو گئی: %(amt)s %(cur)s %(payee)s کو ادا کیے گئے۔",
    "Converted %(amt)s": "%(amt)s %(cur)s کو %(rate)s پر تبدیل کیا گیا: %(pkr)s روپے جمع ہوئے۔",
    "Transferred %(amt)s": "%(amt)s %(cur)s منتقل کیے گئے: %(to)s وصول ہوئے۔",
    "accepted": "منظور شدہ",
    "returned": "واپس شدہ",
    "%(firm)s %(month)s is %(label)s.": "%(firm)s %(month)s: %(label)s۔",
    "ESFCA manager": "ای ایس ایف سی اے منیجر",
    "Skip to content": "مواد پر جائیں",
    "Main": "مرکزی",
    "Dashboard": "ڈیش بورڈ",
    "Receipts": "وصولیاں",
    "Allocations": "ادائیگیاں",
    "Record a receipt": "وصولی درج کریں",
    "Import": "درآمد",
    "Allocate": "ادائیگی کریں",
    "Convert": "روپے میں تبدیل کریں",
    "Transfer": "منتقلی",
    "Months": "مہینے",
    "Review queue": "جائزہ قطار",
    "Portfolio": "پورٹ فولیو",
    "Administration": "انتظامیہ",
    "Language": "زبان",
    "Switch": "تبدیل کریں",
    "Change password": "پاس ورڈ تبدیل کریں",
    "Log out": "لاگ آؤٹ",
    "Amounts on screen use thousands": "اسکرین پر رقوم ہزار کے فاصل کے ساتھ دکھائی جاتی ہیں؛ ڈاؤن لوڈ فائلوں میں سادہ اعشاریہ۔ تاریخیں دن مہینہ سال کی ترتیب میں ہیں۔",
    "Available in the ESFCA": "ای ایس ایف سی اے میں دستیاب",
    "The firm has no ESFCA in this currency.": "اس کرنسی میں فرم کا کوئی ای ایس ایف سی اے نہیں۔",
    "The balance must cover the amount": "بیلنس رقم کے برابر یا زیادہ ہونا چاہیے: ای ایس ایف سی اے کبھی اوور ڈرا نہیں ہوتا۔",
    "The payee must be abroad": "وصول کنندہ بیرون ملک ہونا چاہیے: پاکستان (PK) میں ادائیگی تبادلے کے بعد روپے میں ہوتی ہے۔",
    "Overseas equity is a capital payment": "بیرون ملک ایکویٹی سرمایہ جاتی ادائیگی ہے: سرمایہ کاری والی کمپنی اور اس کا ملک درج کریں۔",
    "The firm is on the Active Taxpayer List, as equity requires.": "فرم ایکٹو ٹیکس پیئر لسٹ میں شامل ہے، جیسا کہ ایکویٹی کے لیے ضروری ہے۔",
    "The firm is not on the Active Taxpayer List: equity will be refused.": "فرم ایکٹو ٹیکس پیئر لسٹ میں شامل نہیں: ایکویٹی مسترد ہو جائے گی۔",
    "Investments in %(c)s need a prior SBP approval reference.": "%(c)s میں سرمایہ کاری کے لیے اسٹیٹ بینک کی پیشگی منظوری کا حوالہ درکار ہے۔",
    "Cap: up to the ESFCA balance.": "حد: ای ایس ایف سی اے بیلنس تک۔",
    "Cap for the calendar year": "کیلنڈر سال کی حد: پچھلے 3 سال کی اوسط برآمدی آمدنی کا %(r)s، یا %(f)s امریکی ڈالر، جو زیادہ ہو۔",
    "Dividends are paid to foreign shareholders only.": "منافع صرف غیر ملکی شیئر ہولڈرز کو ادا کیا جاتا ہے۔",
    "A current payment for business abroad.": "بیرون ملک کاروبار کے لیے جاری ادائیگی۔",
    "Balances": "بیلنس",
    "No ESFCA is open yet.": "ابھی کوئی ای ایس ایف سی اے نہیں کھلا۔",
    "Filters": "فلٹر",
    "Filter": "فلٹر کریں",
    "Clear": "صاف کریں",
    "Download CSV": "سی ایس وی ڈاؤن لوڈ کریں",
    "Checking %(n)s row…": ["%(n)s قطار کی جانچ ہو رہی ہے…", "%(n)s قطاروں کی جانچ ہو رہی ہے…"],
    "Importing: %(p)s of %(t)s rows": "درآمد: %(t)s میں سے %(p)s قطاریں",
    "Finished.": "مکمل۔",
    "Pages": "صفحات",
    "Previous": "پچھلا",
    "Page %(n)s of %(t)s": "صفحہ %(n)s از %(t)s",
    "Next": "اگلا",
    "Type the value date, currency and amount": "اجازت شدہ رقم، تقسیم، ٹیکس اور جمع ہونے والے روپے دیکھنے کے لیے ویلیو تاریخ، کرنسی اور رقم لکھیں۔",
    "This receipt would be refused.": "یہ وصولی مسترد ہو جائے گی۔",
    "You may retain up to %(c)s %(a)s": "آپ زیادہ سے زیادہ %(c)s %(a)s رکھ سکتے ہیں: اتنی یا کم رقم مانگیں، یا ”اجازت شدہ زیادہ سے زیادہ“ منتخب کریں۔",
    "Allowed retention": "رکھنے کی اجازت",
    "Retained in the ESFCA": "ای ایس ایف سی اے میں رکھا گیا",
    "Converted to PKR": "روپے میں تبدیل",
    "Conversion rate": "تبادلہ ریٹ",
    "buying rate of the day": "دن کا خرید ریٹ",
    "Tax withheld (%(r)s of the gross)": "منہا شدہ ٹیکس (کل رقم کا %(r)s)",
    "PKR credited": "جمع شدہ روپے",
    "Monthly rule: %(r)s": "ماہانہ قاعدہ: مہینے کی آمدنی کا %(r)s یا ماہانہ کم از کم حد، جو زیادہ ہو؛ ٹیکس تبدیل شدہ حصے سے ادا ہونا چاہیے۔",
    "Per-receipt rule: %(r)s of this receipt.": "فی وصولی قاعدہ: اس وصولی کا %(r)s۔",
    "%(n)s later receipt of this month": [
        "اس مہینے کی %(n)s بعد کی وصولی محفوظ کرتے وقت دوبارہ جانچی جائے گی۔",
        "اس مہینے کی %(n)s بعد کی وصولیاں محفوظ کرتے وقت دوبارہ جانچی جائیں گی۔",
    ],
    "Opening balance": "ابتدائی بیلنس",
    "Receipts (%(n)s)": ["وصولیاں (%(n)s)", "وصولیاں (%(n)s)"],
    "Retained": "رکھا گیا",
    "Converted": "تبدیل شدہ",
    "Tax withheld": "منہا شدہ ٹیکس",
    "Conversions to PKR": "روپے میں تبادلے",
    "Transfers in / out": "منتقلی اندر / باہر",
    "Closing balance": "اختتامی بیلنس",
    "Ledger balance": "لیجر بیلنس",
    "Retained / allowed (share of proceeds)": "رکھی گئی / اجازت شدہ (آمدنی کا حصہ)",
    "North America": "شمالی امریکہ",
    "Middle East/GCC": "مشرق وسطیٰ / خلیجی ممالک",
    "Europe/UK": "یورپ / برطانیہ",
    "Asia-Pacific": "ایشیا بحرالکاہل",
    "Other": "دیگر",
    "Cloud infrastructure": "کلاؤڈ انفراسٹرکچر",
    "Software subscriptions": "سافٹ ویئر سبسکرپشنز",
    "Marketing abroad": "بیرون ملک مارکیٹنگ",
    "Professional fees abroad": "بیرون ملک پیشہ ورانہ فیس",
    "Staff salaries abroad": "بیرون ملک عملے کی تنخواہیں",
    "Foreign office expenses": "غیر ملکی دفتر کے اخراجات",
    "Travel abroad": "بیرون ملک سفر",
    "Training and certification": "تربیت اور سرٹیفیکیشن",
    "Dividends to foreign shareholders": "غیر ملکی شیئر ہولڈرز کو منافع",
    "Overseas equity": "بیرون ملک سرمایہ کاری (ایکویٹی)",
    "Allocations by purpose": "مقصد کے لحاظ سے ادائیگیاں",
    "Receipts by client country": "کلائنٹ کے ملک کے لحاظ سے وصولیاں",
    "Country": "ملک",
    "Count": "تعداد",
    "No ESFCA activity this month.": "اس مہینے ای ایس ایف سی اے میں کوئی سرگرمی نہیں۔",
    "Compliance flags": "تعمیل کے نشانات",
    "No flags.": "کوئی نشان نہیں۔",
    "Review history": "جائزے کی تاریخ",
    "revision": "نظرثانی",
    "by": "از",
    "Not filed yet.": "ابھی جمع نہیں کرایا گیا۔",
    "Allocate funds": "رقم کی ادائیگی",
    "Allocate retained funds": "رکھی گئی رقم سے ادائیگی",
    "Record the allocation": "ادائیگی درج کریں",
    "Balance and rules": "بیلنس اور قواعد",
    "%(n)s allocation": ["%(n)s ادائیگی", "%(n)s ادائیگیاں"],
    "Balance after": "بعد کا بیلنس",
    "No allocations match.": "کوئی ادائیگی نہیں ملی۔",
    "Convert to PKR": "روپے میں تبدیل کریں",
    "Convert ESFCA funds to PKR": "ای ایس ایف سی اے رقم روپے میں تبدیل کریں",
    "Figures as of %(day)s.": "%(day)s تک کے اعداد و شمار۔ امریکی ڈالر کے مساوی ہر ویلیو تاریخ کے حوالہ جاتی خرید ریٹ پر۔",
    "Import receipts": "وصولیاں درآمد کریں",
    "This month's summary": "اس مہینے کا خلاصہ",
    "Account": "اکاؤنٹ",
    "Balance": "بیلنس",
    "Rate (PKR)": "ریٹ (روپے)",
    "PKR value": "روپے میں مالیت",
    "PKR cost": "روپے میں لاگت",
    "Unrealised FX": "غیر حقیقی زرمبادلہ نفع/نقصان",
    "ESFCA": "ای ایس ایف سی اے",
    "stale": "پرانا",
    "loss": "نقصان",
    "No rate to value this balance.": "اس بیلنس کی مالیت کے لیے کوئی ریٹ نہیں۔",
    "No ESFCA is open yet: the platform admin opens accounts.": "ابھی کوئی ای ایس ایف سی اے نہیں کھلا: پلیٹ فارم ایڈمن اکاؤنٹ کھولتا ہے۔",
    "PKR account": "روپے کا اکاؤنٹ",
    "Retention headroom, %(m)s": "رکھنے کی گنجائش، %(m)s",
    "Proceeds this month": "اس مہینے کی آمدنی",
    "Allowed to retain": "رکھنے کی اجازت",
    "Left": "باقی",
    "%(p)s%% of the allowed retention used": "اجازت شدہ رقم کا %(p)s%% استعمال ہو چکا",
    "Rule in force: %(r)s of the month's proceeds": "نافذ قاعدہ: مہینے کی آمدنی کا %(r)s یا اس میں سے %(f)s امریکی ڈالر تک، جو زیادہ ہو۔",
    "Rule in force: %(r)s of each receipt.": "نافذ قاعدہ: ہر وصولی کا %(r)s۔",
    "%(n)s receipt has no reference rate": [
        "%(n)s وصولی کا حوالہ جاتی ریٹ نہیں، اس لیے شمار نہیں کی گئی۔",
        "%(n)s وصولیوں کا حوالہ جاتی ریٹ نہیں، اس لیے شمار نہیں کی گئیں۔",
    ],
    "Clients and regions (12 months)": "کلائنٹس اور خطے (12 ماہ)",
    "One client dominates.": "ایک کلائنٹ کا غلبہ ہے۔",
    "Client concentration (Herfindahl index) is %(h)s": "کلائنٹ ارتکاز (ہرفنڈال اشاریہ) %(h)s ہے، جو انتباہی سطح %(w)s سے زیادہ ہے۔",
    "Client concentration (Herfindahl index): %(h)s.": "کلائنٹ ارتکاز (ہرفنڈال اشاریہ): %(h)s۔",
    "By region": "خطے کے لحاظ سے",
    "No receipts in the last 12 months.": "پچھلے 12 ماہ میں کوئی وصولی نہیں۔",
    "Largest clients": "سب سے بڑے کلائنٹس",
    "Share": "حصہ",
    "Receipts, retained and converted: last 12 months (USD equivalent)": "وصولیاں، رکھی گئی اور تبدیل شدہ: پچھلے 12 ماہ (امریکی ڈالر کے مساوی)",
    "Monthly receipts split into retained": "ماہانہ وصولیاں، رکھی گئی اور تبدیل شدہ حصوں میں؛ اعداد نیچے کی جدول میں ہیں۔",
    "receipts": "وصولیاں",
    "retained": "رکھا گیا",
    "converted": "تبدیل شدہ",
    "The figures": "اعداد و شمار",
    "Month": "مہینہ",
    "Allocations by purpose (12 months)": "مقصد کے لحاظ سے ادائیگیاں (12 ماہ)",
    "No allocations in the last 12 months.": "پچھلے 12 ماہ میں کوئی ادائیگی نہیں۔",
    "Firms": "فرمیں",
    "Your account has no role yet.": "آپ کے اکاؤنٹ کا ابھی کوئی کردار نہیں۔ پلیٹ فارم ایڈمن سے کہیں۔",
    "Open the administration": "انتظامیہ کھولیں",
    "No firms to show.": "دکھانے کو کوئی فرم نہیں۔",
    "Uploaded %(d)s · %(n)s rows": "%(d)s کو اپ لوڈ · %(n)s قطاریں",
    "Dry run: nothing has been saved yet": "آزمائشی جانچ: ابھی کچھ محفوظ نہیں ہوا",
    "Import finished": "درآمد مکمل",
    "Would be recorded": "درج ہوں گی",
    "Recorded": "درج ہو گئیں",
    "Already recorded (skipped)": "پہلے سے درج (چھوڑ دی گئیں)",
    "Refused": "مسترد",
    "Refused rows are left out": "مسترد قطاریں شامل نہیں ہوں گی؛ انہیں فائل میں درست کر کے بعد میں دوبارہ درآمد کریں۔",
    "Import %(n)s receipt": ["%(n)s وصولی درآمد کریں", "%(n)s وصولیاں درآمد کریں"],
    "Row by row": "قطار وار",
    "Show": "دکھائیں",
    "all": "سب",
    "refused": "مسترد",
    "skipped": "چھوڑی گئیں",
    "Row": "قطار",
    "Outcome": "نتیجہ",
    "Why / split": "وجہ / تقسیم",
    "already recorded": "پہلے سے درج",
    "No rows.": "کوئی قطار نہیں۔",
    "1. Download a template": "1۔ ٹیمپلیٹ ڈاؤن لوڈ کریں، ہر قطار میں ایک وصولی لکھیں۔",
    "CSV template": "سی ایس وی ٹیمپلیٹ",
    "XLSX template": "ایکس ایل ایس ایکس ٹیمپلیٹ",
    "2. Upload it": "2۔ اسے اپ لوڈ کریں: ہم پہلے ہر قطار کو کچھ محفوظ کیے بغیر جانچتے ہیں اور بتاتے ہیں کہ کیا قبول یا مسترد ہوگا، اور کیوں۔",
    "Check the file": "فائل جانچیں",
    "Columns": "کالم",
    "Importing the same file twice": "ایک ہی فائل دو بار درآمد کرنے سے کچھ دو بار درج نہیں ہوتا: پہلے سے درج حوالہ چھوڑ دیا جاتا ہے۔",
    "Recent imports": "حالیہ درآمدات",
    "File": "فائل",
    "Uploaded": "اپ لوڈ",
    "Status": "حیثیت",
    "Rows": "قطاریں",
    "Monthly summary": "ماہانہ خلاصہ",
    "Monthly summary: %(m)s": "ماہانہ خلاصہ: %(m)s",
    "filing due %(d)s": "جمع کرانے کی آخری تاریخ %(d)s",
    "Returned by the bank:": "بینک نے واپس کیا:",
    "File again (new revision)": "دوبارہ جمع کرائیں (نئی نظرثانی)",
    "File this month": "یہ مہینہ جمع کرائیں",
    "Download XLSX": "ایکس ایل ایس ایکس ڈاؤن لوڈ کریں",
    "Download PDF": "پی ڈی ایف ڈاؤن لوڈ کریں",
    "Portfolio of %(b)s: %(m)s": "%(b)s کا پورٹ فولیو: %(m)s",
    "Bank": "بینک",
    "Filing due %(d)s": "جمع کرانے کی آخری تاریخ %(d)s",
    "Firm": "فرم",
    "Closing": "اختتامی",
    "Retention": "رکھنے کی شرح",
    "Flags": "نشانات",
    "No activity": "کوئی سرگرمی نہیں",
    "No firms bank with you.": "کوئی فرم آپ کے بینک میں نہیں۔",
    "Record the receipt": "وصولی درج کریں",
    "Before you save": "محفوظ کرنے سے پہلے",
    "%(n)s receipt": ["%(n)s وصولی", "%(n)s وصولیاں"],
    "Rate": "ریٹ",
    "Tax (PKR)": "ٹیکس (روپے)",
    "No receipts match.": "کوئی وصولی نہیں ملی۔",
    "waiting (filed)": "منتظر (جمع شدہ)",
    "Revision": "نظرثانی",
    "Filed": "جمع شدہ",
    "%(n)s flag": ["%(n)s نشان", "%(n)s نشانات"],
    "none": "کوئی نہیں",
    "Nothing to review.": "جائزے کے لیے کچھ نہیں۔",
    "filed": "جمع شدہ",
    "A return needs a comment": "واپسی کے لیے تبصرہ ضروری ہے جو فرم کو بتائے کہ کیا درست کرنا ہے۔",
    "Record the decision": "فیصلہ درج کریں",
    "Transfer between own ESFCAs": "اپنے ای ایس ایف سی اے کے درمیان منتقلی",
    "Across currencies the day's buying rates": "مختلف کرنسیوں میں دونوں کرنسیوں کے دن کے خرید ریٹ استعمال ہوتے ہیں۔",
    "Logged out": "لاگ آؤٹ ہو گئے",
    "Log in again": "دوبارہ لاگ ان کریں",
    "Log in": "لاگ ان",
    "Your account cannot open that page.": "آپ کا اکاؤنٹ وہ صفحہ نہیں کھول سکتا۔ ایسے صارف سے لاگ ان کریں جو کھول سکے۔",
    "Forgotten your password?": "پاس ورڈ بھول گئے؟",
    "Password changed": "پاس ورڈ تبدیل ہو گیا",
    "Back to the dashboard": "ڈیش بورڈ پر واپس",
    "Change my password": "میرا پاس ورڈ تبدیل کریں",
    "Password set": "پاس ورڈ مقرر ہو گیا",
    "Choose a new password": "نیا پاس ورڈ منتخب کریں",
    "Set the password": "پاس ورڈ مقرر کریں",
    "This link is invalid": "یہ لنک درست نہیں یا پہلے استعمال ہو چکا ہے۔ نیا لنک مانگیں۔",
    "Reset your password": "پاس ورڈ دوبارہ مقرر کریں",
    "Check your email": "اپنی ای میل دیکھیں",
    "If an account has that address": "اگر کسی اکاؤنٹ کا یہ پتہ ہے تو پاس ورڈ بدلنے کا لنک بھیج دیا گیا ہے۔",
    "You asked to reset your password": "آپ نے %(site_name)s پر ای ایس ایف سی اے منیجر کا پاس ورڈ دوبارہ مقرر کرنے کی درخواست کی۔",
    "Choose a new password here:": "یہاں نیا پاس ورڈ منتخب کریں:",
    "Your username:": "آپ کا صارف نام:",
    "If you did not ask for this": "اگر آپ نے یہ درخواست نہیں کی تو اس ای میل کو نظر انداز کریں۔",
    "Enter the email address of your account": "اپنے اکاؤنٹ کا ای میل پتہ لکھیں؛ ہم نیا پاس ورڈ منتخب کرنے کا لنک بھیجیں گے۔",
    "Send the link": "لنک بھیجیں",
    "Reset your ESFCA manager password": "اپنا ای ایس ایف سی اے منیجر پاس ورڈ دوبارہ مقرر کریں",
    "Username": "صارف نام",
    "Password": "پاس ورڈ",
    "Home": "ہوم",
}


def _unquote(lines: list[str]) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', "\n".join(lines))).replace('\\"', '"')


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lookup(msgid: str):
    if msgid in UR:
        return UR[msgid]
    matches = [k for k in UR if msgid.startswith(k) and len(k) >= 12]
    return UR[max(matches, key=len)] if matches else None


def fill(path: Path) -> tuple[int, int]:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    done = total = 0
    out = []
    for block in blocks:
        lines = block.split("\n")
        ids = [i for i, line in enumerate(lines) if line.startswith("msgid ")]
        if not ids:
            out.append(block)
            continue
        start = ids[0]
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith('"'))
        msgid = _unquote([lines[start][6:], *lines[start + 1 : end]])
        if not msgid:
            out.append(block)
            continue
        total += 1
        head = [line for line in lines if line.startswith("#")]
        head = [h for h in head if h != "#, fuzzy" and "fuzzy" not in h]
        body = lines[
            start : next(i for i in range(start, len(lines)) if lines[i].startswith("msgstr"))
        ]
        value = _lookup(msgid)
        if value is None:
            out.append(block)
            continue
        done += 1
        if any(line.startswith("msgid_plural") for line in body):
            forms = value if isinstance(value, list) else [value, value]
            strs = [f"msgstr[{i}] {_quote(f)}" for i, f in enumerate(forms)]
        else:
            strs = [f"msgstr {_quote(value if isinstance(value, str) else value[0])}"]
        out.append("\n".join([*head, *body, *strs]))
    path.write_text("\n\n".join(out), encoding="utf-8")
    return done, total


if __name__ == "__main__":
    po = Path(__file__).parent / "ur" / "LC_MESSAGES" / "django.po"
    done, total = fill(po)
    print(f"translated {done} of {total}")
