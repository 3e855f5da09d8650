//! The fictional district: its units, streets and communities, and the names of its cadres. The
//! district is modelled on the seed articles (a city district like Gulou) but every name here is
//! made up; cadres' names are drawn from common surnames and given-name characters.

use super::rng::Rng;
use std::collections::HashSet;

/// The district's name as its households' addresses spell it.
pub const DISTRICT: &str = "清河区";

/// The log's origin (the C2SP checkpoint's first line).
pub const ORIGIN: &str = "bangfu.example/qinghe";

/// The authority that holds the log: the district's organisation department.
pub const AUTHORITY_NAME: &str = "中共清河区委组织部";

pub const PROGRAM_NAME: &str = "清河区干部结对帮扶困难家庭";

/// What a unit is, as `register_unit` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    Bureau,
    StreetOffice,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Bureau => "bureau",
            UnitKind::StreetOffice => "street_office",
        }
    }
}

/// The district committee first (every other unit's parent), then the bureaus and the street
/// offices whose cadres are paired.
pub const UNITS: [(&str, &str, UnitKind); 21] = [
    ("qinghe", "中共清河区委", UnitKind::Bureau),
    ("zzb", "区委组织部", UnitKind::Bureau),
    ("jgwgw", "区直机关工委", UnitKind::Bureau),
    ("jiwei", "区纪委监委", UnitKind::Bureau),
    ("court", "区人民法院", UnitKind::Bureau),
    ("procuratorate", "区人民检察院", UnitKind::Bureau),
    ("finance", "区财政局", UnitKind::Bureau),
    ("education", "区教育局", UnitKind::Bureau),
    ("health", "区卫生健康局", UnitKind::Bureau),
    ("civil", "区民政局", UnitKind::Bureau),
    ("hrss", "区人力资源和社会保障局", UnitKind::Bureau),
    ("housing", "区住房和城乡建设局", UnitKind::Bureau),
    ("police", "区公安分局", UnitKind::Bureau),
    ("market", "区市场监督管理局", UnitKind::Bureau),
    ("urban", "区城市管理局", UnitKind::Bureau),
    ("qinghe-st", "清河街道办事处", UnitKind::StreetOffice),
    ("dongmen-st", "东门街道办事处", UnitKind::StreetOffice),
    ("xihu-st", "西湖街道办事处", UnitKind::StreetOffice),
    ("nanhu-st", "南湖街道办事处", UnitKind::StreetOffice),
    ("beiling-st", "北岭街道办事处", UnitKind::StreetOffice),
    ("xinqiao-st", "新桥街道办事处", UnitKind::StreetOffice),
];

/// Streets and their communities, for the households' public addresses.
pub const STREETS: [(&str, [&str; 3]); 6] = [
    ("清河街道", ["柳岸社区", "桥西社区", "文昌社区"]),
    ("东门街道", ["东门社区", "朝阳社区", "和平社区"]),
    ("西湖街道", ["湖滨社区", "荷塘社区", "西苑社区"]),
    ("南湖街道", ["南湖社区", "春晖社区", "兴隆社区"]),
    ("北岭街道", ["北岭社区", "松林社区", "石桥社区"]),
    ("新桥街道", ["新桥社区", "锦绣社区", "光明社区"]),
];

/// Society's donors to the named fund (all fictional).
pub const DONORS: [&str; 12] = [
    "清河区慈善总会",
    "东门商会",
    "新桥建材有限公司",
    "西湖餐饮协会",
    "清河区个体劳动者协会",
    "南湖物流有限公司",
    "北岭农业合作社",
    "爱心人士（匿名）",
    "清河区工商联",
    "锦绣服装有限公司",
    "湖滨社区居民",
    "清河中学校友会",
];

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史贺顾毛郝龚邵万钱严武戴孔向汤";

const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国文辉林斌宇浩凯鹏晨欣婷雪琳晓海东峰志光春燕梅丹亮成新宏波庆荣立德振永福嘉颖佳思雨蕾彬俊健世家安博泽睿航铭卫清正和晶慧琴";

/// `n` distinct two- or three-character names, the same for the same seed.
pub fn cadre_names(rng: &mut Rng, n: usize) -> Vec<String> {
    let surnames: Vec<char> = SURNAMES.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let pick = |rng: &mut Rng, from: &[char]| from[rng.below(from.len() as u64) as usize];
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut name = String::new();
        name.push(pick(rng, &surnames));
        name.push(pick(rng, &given));
        // About a third of names have a single given character.
        if !rng.chance(330) {
            let next = pick(rng, &given);
            if name.ends_with(next) {
                continue;
            }
            name.push(next);
        }
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}
