"""English names of the genres in the Movie101v2 metadata (``metadata/<movie_id>.json``'s ``genre``, in Chinese).

The table covers every genre of the real release (47) and the demo's; a name it does not know is shown
as it is written, in Chinese (:func:`genre_en`).

Stored data keeps the Chinese name (``Movie.genres``, a result's breakdown); pages name a genre in their
language at display time (:func:`genre_name`). CSV and LaTeX exports use the English name.
"""

from __future__ import annotations

from .texts import chinese_active

#: Chinese genre name -> English, in the order of how many Movie101v2 movies carry it.
GENRES_EN: dict[str, str] = {
    "喜剧": "Comedy",
    "爱情": "Romance",
    "动作": "Action",
    "犯罪": "Crime",
    "悬疑": "Mystery",
    "奇幻": "Fantasy",
    "古装": "Costume",
    "亲情": "Family bonds",
    "青春": "Youth",
    "乡村": "Rural",
    "友情": "Friendship",
    "励志": "Inspirational",
    "传记": "Biography",
    "武侠": "Wuxia",
    "家庭": "Family",
    "战争": "War",
    "历史": "History",
    "探险": "Adventure",
    "功夫": "Kung fu",
    "警匪": "Cops and robbers",
    "抗日": "Anti-Japanese War",
    "婚姻": "Marriage",
    "剧情": "Drama",
    "动画": "Animation",
    "谍战": "Espionage",
    "校园": "Campus",
    "主旋律": "Patriotic",
    "灾难": "Disaster",
    "惊悚": "Thriller",
    "神话": "Mythology",
    "科幻": "Science fiction",
    "音乐": "Music",
    "都市": "Urban",
    "浪漫": "Romantic",
    "治愈": "Feel-good",
    "美食": "Food",
    "缉私": "Anti-smuggling",
    "刑侦": "Criminal investigation",
    "推理": "Detective",
    "文艺": "Art house",
    "偶像": "Idol",
    "魔幻": "Magic",
    "社会": "Social",
    "穿越": "Time travel",
    "体育": "Sports",
    "纪实": "Documentary",
    "公路": "Road movie",
}


def genre_en(name: str) -> str:
    """The English name of the genre ``name``; the name itself when the table does not know it."""
    return GENRES_EN.get(name, name)


def genre_name(name: str) -> str:
    """The genre ``name`` (its Chinese name, as stored) in the active language: Chinese on a Chinese page,
    else English (the Chinese name itself when the table does not know it)."""
    return name if chinese_active() else genre_en(name)
